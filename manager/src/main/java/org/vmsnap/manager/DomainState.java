package org.vmsnap.manager;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.vmsnap.manager.plan.Plan;
import org.vmsnap.manager.plan.Step;
import org.vmsnap.manager.store.AtomicFiles;
import org.vmsnap.manager.store.DomainStore;
import org.vmsnap.manager.xml.DiskDef;
import org.vmsnap.manager.xml.Domain;
import org.vmsnap.manager.xml.SnapshotDef;
import org.vmsnap.manager.xml.SnapshotDisk;
import org.vmsnap.manager.xml.SnapshotMode;
import org.vmsnap.manager.xml.SnapshotXml;

/**
 * A domain's metadata as one value that planners change in memory: the definition, the
 * snapshots, the current one and the image files vmsnap created. {@link #emitChanges} turns the
 * difference from the stored state into journaled file writes (also into the mirror beside the
 * images, from which {@code recover} reads descriptions).
 */
final class DomainState {
    Domain domain;
    final Map<String, SnapshotDef> snapshots = new LinkedHashMap<>();
    String current;
    final Set<Path> owned = new LinkedHashSet<>();
    /** Internal snapshots deleted from the metadata whose image QEMU still held (see {@link DomainStore#pendingFile}). */
    final Set<DomainStore.PendingDelete> pending = new LinkedHashSet<>();

    static DomainState load(DomainStore store) throws IOException {
        return load(store, null);
    }

    /** With {@code damaged} non-null, unreadable snapshot files are skipped and listed there. */
    static DomainState load(DomainStore store, List<String> damaged) throws IOException {
        DomainState s = new DomainState();
        s.domain = store.readDomain();
        for (SnapshotDef d : store.readSnapshots(damaged)) {
            s.snapshots.put(d.name(), d);
        }
        s.current = store.readCurrent();
        if (s.current != null && !s.snapshots.containsKey(s.current)) {
            s.current = null;
        }
        s.owned.addAll(store.readOwned());
        s.pending.addAll(store.readPending());
        return s;
    }

    DomainState copy() {
        DomainState c = new DomainState();
        c.domain = domain;
        c.snapshots.putAll(snapshots);
        c.current = current;
        c.owned.addAll(owned);
        c.pending.addAll(pending);
        return c;
    }

    SnapshotTree tree() {
        return new SnapshotTree(List.copyOf(snapshots.values()), current);
    }

    /** The image a snapshot's disk was at the snapshot: the frozen image (external) or the holder (internal). */
    static Path imageAt(SnapshotDef s, String target) {
        if (s.domain() == null) {
            return null;
        }
        return s.domain().disk(target).map(DiskDef::source).orElse(null);
    }

    /** Files some snapshot needs as they are: frozen images of external and holders of internal snapshots. */
    Set<Path> pinned() {
        Set<Path> out = new LinkedHashSet<>();
        for (SnapshotDef s : snapshots.values()) {
            for (SnapshotDisk d : s.disks()) {
                if (d.mode() == SnapshotMode.INTERNAL || d.mode() == SnapshotMode.EXTERNAL) {
                    Path p = imageAt(s, d.name());
                    if (p != null) {
                        out.add(p);
                    }
                }
            }
        }
        return out;
    }

    /** External snapshots (other than {@code except}) whose frozen image is {@code file}. */
    boolean frozenByOther(Path file, String except) {
        for (SnapshotDef s : snapshots.values()) {
            if (s.name().equals(except)) {
                continue;
            }
            for (SnapshotDisk d : s.disks()) {
                if (d.mode() == SnapshotMode.EXTERNAL && file.equals(imageAt(s, d.name()))) {
                    return true;
                }
            }
        }
        return false;
    }

    Set<Path> currentTops() {
        Set<Path> out = new LinkedHashSet<>();
        for (DiskDef d : domain.disks()) {
            out.add(d.source());
        }
        return out;
    }

    /** Every file the metadata names (tops, images at snapshots, overlays). */
    Set<Path> namedFiles() {
        Set<Path> out = new LinkedHashSet<>(currentTops());
        for (SnapshotDef s : snapshots.values()) {
            if (s.domain() != null) {
                s.domain().disks().forEach(d -> out.add(d.source()));
            }
            for (SnapshotDisk d : s.disks()) {
                if (d.source() != null) {
                    out.add(d.source());
                }
            }
        }
        out.addAll(owned);
        return out;
    }

    /** Rewrites every reference to {@code from} (a file merged away) into {@code to}. */
    void replaceFile(Path from, Path to, String toFormat) {
        domain = replaceIn(domain, from, to, toFormat);
        for (Map.Entry<String, SnapshotDef> e : snapshots.entrySet()) {
            SnapshotDef s = e.getValue();
            Domain d = s.domain() == null ? null : replaceIn(s.domain(), from, to, toFormat);
            List<SnapshotDisk> disks = new ArrayList<>();
            for (SnapshotDisk sd : s.disks()) {
                disks.add(from.equals(sd.source()) ? sd.withSource(to) : sd);
            }
            e.setValue(s.withDomain(d).withDisks(disks));
        }
    }

    private static Domain replaceIn(Domain d, Path from, Path to, String toFormat) {
        Domain out = d;
        for (DiskDef disk : d.disks()) {
            if (disk.source().equals(from)) {
                out = out.withDisk(disk.target(), to, toFormat);
            }
        }
        return out;
    }

    /** Appends the file writes that turn {@code before} (as stored) into this state. */
    void emitChanges(DomainState before, DomainStore store, Path mirror, Plan plan) throws IOException {
        putIfChanged(plan, store.domainFile(), mirrorOf(mirror, "domain.xml"), before.domain.toXml(),
                domain.toXml());
        for (String name : before.snapshots.keySet()) {
            if (!snapshots.containsKey(name)) {
                put(plan, store.snapshotFile(name), mirrorOf(mirror, name + ".xml"), null);
            }
        }
        for (SnapshotDef s : snapshots.values()) {
            SnapshotDef old = before.snapshots.get(s.name());
            putIfChanged(plan, store.snapshotFile(s.name()), mirrorOf(mirror, s.name() + ".xml"),
                    old == null ? null : SnapshotXml.format(old), SnapshotXml.format(s));
        }
        putIfChanged(plan, store.currentFile(), mirrorOf(mirror, "current"),
                before.current == null ? null : before.current + "\n", current == null ? null : current + "\n");
        putIfChanged(plan, store.ownedFile(), null, DomainStore.ownedText(before.owned),
                DomainStore.ownedText(owned));
        // In the mirror too: recover must not bring back a snapshot whose deletion only waits.
        putIfChanged(plan, store.pendingFile(), mirrorOf(mirror, "pending-deletes"),
                before.pending.isEmpty() ? null : DomainStore.pendingText(before.pending),
                pending.isEmpty() ? null : DomainStore.pendingText(pending));
    }

    private static Path mirrorOf(Path mirror, String file) {
        return mirror == null ? null : mirror.resolve(file);
    }

    private static void putIfChanged(Plan plan, Path file, Path mirror, String old, String now) throws IOException {
        if (old == null ? now == null : old.equals(now)) {
            return;
        }
        put(plan, file, mirror, now);
    }

    private static void put(Plan plan, Path file, Path mirror, String now) throws IOException {
        plan.add(new Step.PutFile(file, now, AtomicFiles.readOrNull(file)));
        if (mirror != null) {
            plan.add(new Step.PutFile(mirror, now, AtomicFiles.readOrNull(mirror)));
        }
    }
}
