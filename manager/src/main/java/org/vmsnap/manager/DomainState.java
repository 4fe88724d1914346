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
    /** What the images hold that is no snapshot any more (see {@link DomainStore#retiredFile}). */
    final Set<DomainStore.Retired> retired = new LinkedHashSet<>();

    static DomainState load(DomainStore store) throws IOException {
        return load(store, null);
    }

    /** With {@code damaged} non-null, unreadable snapshot files are skipped and listed there. */
    static DomainState load(DomainStore store, List<DomainStore.Damaged> damaged) throws IOException {
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
        s.retired.addAll(store.readRetired());
        return s;
    }

    DomainState copy() {
        DomainState c = new DomainState();
        c.domain = domain;
        c.snapshots.putAll(snapshots);
        c.current = current;
        c.owned.addAll(owned);
        c.pending.addAll(pending);
        c.retired.addAll(retired);
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
            if (s.memoryMode() == SnapshotMode.EXTERNAL && s.memoryFile() != null) {
                out.add(s.memoryFile()); // an external checkpoint's memory file, while the checkpoint is kept
            }
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

    /**
     * Appends the file writes that turn {@code before} (as stored) into this state, in the state
     * folder and in the mirror. The mirror is written whole when it is not the one {@code
     * before} wrote to (the first disk moved to another folder) or does not hold {@code before}'s
     * definition (lost or never written): recover needs all of it, not the changes.
     */
    void emitChanges(DomainState before, DomainStore store, Path mirror, Plan plan, Set<Path> removing)
            throws IOException {
        retire(before, removing);
        Path beforeMirror = PlanContext.mirror(before);
        boolean whole = mirror != null && (!mirror.equals(beforeMirror)
                || !before.domain.toXml().equals(AtomicFiles.readOrNull(mirror.resolve("domain.xml"))));
        DomainState old = whole ? new DomainState() : before;
        if (whole) {
            old.domain = before.domain;
        }
        putIfChanged(plan, store.domainFile(), before.domain.toXml(), mirrorOf(mirror, "domain.xml"),
                old.domain.toXml(), whole, domain.toXml());
        for (String name : before.snapshots.keySet()) {
            if (!snapshots.containsKey(name)) {
                put(plan, store.snapshotFile(name), mirrorOf(mirror, name + ".xml"), null);
            }
        }
        for (SnapshotDef s : snapshots.values()) {
            SnapshotDef was = before.snapshots.get(s.name());
            putIfChanged(plan, store.snapshotFile(s.name()), was == null ? null : SnapshotXml.formatStored(was),
                    mirrorOf(mirror, s.name() + ".xml"), whole ? null : was == null ? null : SnapshotXml.formatStored(was),
                    whole, SnapshotXml.formatStored(s));
        }
        putIfChanged(plan, store.currentFile(), lineOrNull(before.current), mirrorOf(mirror, "current"),
                lineOrNull(old.current), whole, lineOrNull(current));
        putIfChanged(plan, store.ownedFile(), DomainStore.ownedText(before.owned), mirrorOf(mirror, "owned"),
                DomainStore.ownedText(old.owned), whole, DomainStore.ownedText(owned));
        // In the mirror too: recover must not bring back a snapshot whose deletion only waits.
        putIfChanged(plan, store.pendingFile(), textOrNull(DomainStore.pendingText(before.pending)),
                mirrorOf(mirror, "pending-deletes"), textOrNull(DomainStore.pendingText(old.pending)), whole,
                textOrNull(DomainStore.pendingText(pending)));
        putIfChanged(plan, store.retiredFile(), textOrNull(DomainStore.retiredText(before.retired)),
                mirrorOf(mirror, "retired"), textOrNull(DomainStore.retiredText(old.retired)), whole,
                textOrNull(DomainStore.retiredText(retired)));
    }

    /**
     * The images of snapshots that left the metadata (deleted, or renamed away) are retired, so
     * recover does not bring them back; those of the snapshots there now are not; facts about
     * files that are gone, or that the plan removes, are dropped.
     */
    private void retire(DomainState before, Set<Path> removing) {
        for (SnapshotDef s : before.snapshots.values()) {
            if (!snapshots.containsKey(s.name())) {
                retired.addAll(facts(s));
            }
        }
        for (SnapshotDef s : snapshots.values()) {
            facts(s).forEach(retired::remove);
        }
        retired.removeIf(r -> removing.contains(r.image()) || !java.nio.file.Files.exists(r.image()));
    }

    /** What a snapshot holds in the images: its internal snapshots and its frozen images. */
    static List<DomainStore.Retired> facts(SnapshotDef s) {
        List<DomainStore.Retired> out = new ArrayList<>();
        for (SnapshotDisk d : s.disks()) {
            Path img = imageAt(s, d.name());
            if (img != null && d.mode() == SnapshotMode.INTERNAL) {
                out.add(new DomainStore.Retired(img, s.name()));
            } else if (img != null && d.mode() == SnapshotMode.EXTERNAL) {
                out.add(new DomainStore.Retired(img, null));
            }
        }
        return out;
    }

    private static String lineOrNull(String name) {
        return name == null ? null : name + "\n";
    }

    private static String textOrNull(String text) {
        return text.isEmpty() ? null : text;
    }

    private static Path mirrorOf(Path mirror, String file) {
        return mirror == null ? null : mirror.resolve(file);
    }

    /**
     * A state-folder file and its mirror copy: each written when its old text differs from the
     * new one ({@code whole}: the mirror copy always).
     */
    private static void putIfChanged(Plan plan, Path file, String old, Path mirror, String mirrorOld, boolean whole,
                                     String now) throws IOException {
        if (old == null ? now != null : !old.equals(now)) {
            plan.add(new Step.PutFile(file, now, AtomicFiles.readOrNull(file)));
        }
        if (mirror != null && (whole || (mirrorOld == null ? now != null : !mirrorOld.equals(now)))) {
            String there = AtomicFiles.readOrNull(mirror);
            if (there == null ? now != null : !there.equals(now)) {
                plan.add(new Step.PutFile(mirror, now, there));
            }
        }
    }

    private static void put(Plan plan, Path file, Path mirror, String now) throws IOException {
        plan.add(new Step.PutFile(file, now, AtomicFiles.readOrNull(file)));
        if (mirror != null) {
            plan.add(new Step.PutFile(mirror, now, AtomicFiles.readOrNull(mirror)));
        }
    }
}
