package org.vmsnap.manager.scenario;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.vmsnap.manager.DeleteScope;
import org.vmsnap.manager.xml.SnapshotMode;

/**
 * What a domain must look like, independent of how vmsnap stores it: every disk's current bytes,
 * the snapshot tree with the bytes each snapshot holds per disk, and the current snapshot.
 * Operations return a new model (crash tests compare against the state before and after).
 */
final class Model {
    /**
     * One snapshot: its parent, its mode per disk target, and the bytes of every disk it
     * snapshotted (no entry for mode {@code no}).
     */
    record Snap(String name, String parent, Map<String, SnapshotMode> modes, Map<String, DiskData> data) {
        Snap withParent(String p) {
            return new Snap(name, p, modes, data);
        }
    }

    final Map<String, DiskData> disks;
    /** Snapshots with metadata, in creation order. */
    final Map<String, Snap> snaps;
    /** Snapshots made with --no-metadata: data but no metadata until recover. */
    final Map<String, Snap> hidden;
    final String current;

    Model(Map<String, DiskData> disks, Map<String, Snap> snaps, Map<String, Snap> hidden, String current) {
        this.disks = new LinkedHashMap<>(disks);
        this.snaps = new LinkedHashMap<>(snaps);
        this.hidden = new LinkedHashMap<>(hidden);
        this.current = current;
    }

    static Model empty(Map<String, DiskData> disks) {
        return new Model(disks, Map.of(), Map.of(), null);
    }

    Model write(String target, long offset, byte[] data) {
        Model m = new Model(disks, snaps, hidden, current);
        m.disks.put(target, disks.get(target).write(offset, data));
        return m;
    }

    Model create(String name, Map<String, SnapshotMode> modes, boolean noMetadata) {
        Map<String, DiskData> data = new LinkedHashMap<>();
        for (Map.Entry<String, SnapshotMode> e : modes.entrySet()) {
            if (e.getValue() != SnapshotMode.NO) {
                data.put(e.getKey(), disks.get(e.getKey()));
            }
        }
        Model m = new Model(disks, snaps, hidden, noMetadata ? current : name);
        Snap s = new Snap(name, noMetadata ? null : current, Map.copyOf(modes), data);
        (noMetadata ? m.hidden : m.snaps).put(name, s);
        return m;
    }

    /** Every snapshotted disk reads the snapshot's bytes; disks with mode no keep theirs. */
    Model revert(String name) {
        Snap s = snap(name);
        Model m = new Model(disks, snaps, hidden, name);
        m.disks.putAll(s.data());
        return m;
    }

    /** snapshot-delete as libvirt defines it (also for --metadata: the model holds no images). */
    Model delete(String name, DeleteScope scope) {
        Snap s = snap(name);
        Set<String> removed = new LinkedHashSet<>();
        if (scope != DeleteScope.SNAPSHOT) {
            removed.addAll(descendants(name));
        }
        if (scope != DeleteScope.CHILDREN_ONLY) {
            removed.add(name);
        }
        String newCurrent = current;
        if (removed.contains(current)) {
            newCurrent = scope == DeleteScope.CHILDREN_ONLY ? name : s.parent();
        }
        Map<String, Snap> left = new LinkedHashMap<>();
        for (Snap o : snaps.values()) {
            if (!removed.contains(o.name())) {
                left.put(o.name(), removed.contains(o.parent()) ? o.withParent(s.parent()) : o);
            }
        }
        return new Model(disks, left, hidden, newCurrent);
    }

    /** snapshot-edit --rename: the same snapshot under a new name; its children follow it. */
    Model rename(String from, String to) {
        Map<String, Snap> out = new LinkedHashMap<>();
        for (Snap o : snaps.values()) {
            Snap n = o.name().equals(from) ? new Snap(to, o.parent(), o.modes(), o.data()) : o;
            out.put(n.name(), from.equals(n.parent()) ? n.withParent(to) : n);
        }
        return new Model(disks, out, hidden, from.equals(current) ? to : current);
    }

    /** Recover brought the hidden snapshots back with these parents and this current snapshot. */
    Model recovered(Map<String, String> parents, String newCurrent) {
        Model m = new Model(disks, snaps, Map.of(), newCurrent);
        for (Snap h : hidden.values()) {
            m.snaps.put(h.name(), h.withParent(parents.get(h.name())));
        }
        return m;
    }

    Snap snap(String name) {
        Snap s = snaps.get(name);
        if (s == null) {
            throw new IllegalArgumentException("no snapshot " + name + " in the model");
        }
        return s;
    }

    List<String> children(String name) {
        List<String> out = new ArrayList<>();
        for (Snap s : snaps.values()) {
            if (name.equals(s.parent())) {
                out.add(s.name());
            }
        }
        return out;
    }

    List<String> descendants(String name) {
        List<String> out = new ArrayList<>();
        for (String c : children(name)) {
            out.add(c);
            out.addAll(descendants(c));
        }
        return out;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("current=" + current + " tree={");
        for (Snap s : snaps.values()) {
            sb.append(' ').append(s.name()).append("<-").append(s.parent()).append(s.modes());
        }
        return sb.append(" } hidden=").append(hidden.keySet()).toString();
    }
}
