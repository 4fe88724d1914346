package org.vmsnap.manager;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.vmsnap.manager.store.AtomicFiles;
import org.vmsnap.manager.store.DomainStore;
import org.vmsnap.manager.xml.DiskDef;
import org.vmsnap.manager.xml.Domain;
import org.vmsnap.manager.xml.SnapshotDef;
import org.vmsnap.manager.xml.SnapshotDisk;
import org.vmsnap.manager.xml.SnapshotMode;
import org.vmsnap.manager.xml.SnapshotXml;

/**
 * {@code vmsnap recover}: rebuilds snapshot metadata from the images when the state folder was
 * lost or damaged. What the images say is the truth:
 * <ul>
 * <li>an internal snapshot named N in the images of one or more disks is snapshot N, created
 *     at the time the snapshot table records;</li>
 * <li>an image that other images of the disk's folder use as backing file is the frozen image of
 *     an external snapshot; its name comes from the overlays' names ({@code <stem>.<name>}, the
 *     names vmsnap and virsh give), its time from the frozen image's modification time;</li>
 * <li>the tree: a snapshot's parent is the latest older snapshot whose image lies in its chain;
 *     the current snapshot is the latest one in the chain of the disks' current images.</li>
 * </ul>
 * Snapshot metadata still in the state folder is kept as it is; the mirror kept beside the
 * images restores names, descriptions, times and the tree exactly when it survived.
 */
final class Recovery {
    /** One snapshot as the images show it; {@code time} in nanoseconds since the epoch. */
    private static final class Found {
        final String name;
        long time;
        final Map<String, SnapshotDisk> disks = new LinkedHashMap<>();
        final Map<String, Path> imageAt = new LinkedHashMap<>();
        /** Every fact of the images behind this name (one name can be in several files). */
        final Set<DomainStore.Retired> facts = new LinkedHashSet<>();

        Found(String name, long time) {
            this.name = name;
            this.time = time;
        }
    }

    /** What the mirror beside the images holds (all empty when there is none). */
    private record Mirror(Domain domain, Map<String, SnapshotDef> snapshots, String current, Set<Path> owned,
                          Set<DomainStore.Retired> retired) {
        boolean present() {
            return domain != null;
        }
    }

    private Recovery() {
    }

    static RecoverReport plan(PlanContext ctx, long nowSec) throws IOException {
        DomainState st = ctx.after;
        List<String> notes = new ArrayList<>();
        Path mirrorDir = PlanContext.mirror(st);
        Mirror mirror = readMirror(mirrorDir, st.domain.name(), notes);
        // Snapshots deleted while the domain ran whose internal part still waits in an image are
        // not brought back (the mirror keeps that list too).
        String pendingText = mirrorDir == null ? null : AtomicFiles.readOrNull(mirrorDir.resolve("pending-deletes"));
        if (pendingText != null) {
            for (String line : pendingText.split("\n")) {
                if (line.indexOf(' ') > 0) {
                    st.pending.add(DomainStore.PendingDelete.parse(line));
                }
            }
        }
        st.retired.addAll(mirror.retired());
        ImageGraph g = ctx.graph();
        adoptCurrentImages(st, g, mirror, notes);
        Map<String, Found> found = fromImages(st, g, notes);
        List<Found> ordered = new ArrayList<>(found.values());
        ordered.sort(Comparator.comparingLong((Found x) -> x.time).thenComparing(x -> x.name));
        List<String> recovered = new ArrayList<>();
        // The mirror's snapshots as they were, where the images still hold their data.
        for (SnapshotDef def : mirror.snapshots().values()) {
            if (st.snapshots.containsKey(def.name()) || !validName(def.name(), "mirror copy " + def.name(), notes)) {
                continue;
            }
            String missing = missingData(def, st, g);
            if (missing != null) {
                notes.add("snapshot " + def.name() + ": in the mirror but " + missing + "; not recovered");
                continue;
            }
            st.snapshots.put(def.name(), def);
            recovered.add(def.name());
        }
        // What the images hold beyond that: snapshots made without metadata (or before the mirror).
        Set<DomainStore.Retired> known = new LinkedHashSet<>(st.retired);
        st.snapshots.values().forEach(d -> known.addAll(DomainState.facts(d)));
        for (Found x : ordered) {
            if (known.containsAll(x.facts)) {
                continue; // a snapshot the metadata has, or what a deleted one left behind
            }
            String name = x.name;
            for (int n = 1; st.snapshots.containsKey(name); n++) {
                name = x.name + "-recovered" + (n == 1 ? "" : "-" + n);
            }
            SnapshotDef def = inferred(st.domain, x, ordered, g).withName(name);
            notes.add("snapshot " + name + ": rebuilt from the images (no description; parent and time inferred"
                    + (name.equals(x.name) ? "" : "; '" + x.name + "' names another snapshot") + ")");
            st.snapshots.put(name, def);
            recovered.add(name);
        }
        // Creation order: by the recorded second, then by the images' finer times where they tell.
        recovered.sort(Comparator.comparingLong((String n) -> st.snapshots.get(n).creationTimeSec())
                .thenComparingLong(n -> found.containsKey(n) ? found.get(n).time : Long.MAX_VALUE)
                .thenComparing(n -> n));
        for (Map.Entry<String, SnapshotDef> e : st.snapshots.entrySet()) {
            String p = e.getValue().parent();
            if (p != null && !st.snapshots.containsKey(p)) {
                e.setValue(e.getValue().withParent(null));
            }
        }
        if (st.current == null && !mirror.snapshots().isEmpty()) {
            // No current snapshot is a state too (after deleting the current one's metadata, say).
            st.current = mirror.current() != null && st.snapshots.containsKey(mirror.current()) ? mirror.current()
                    : null;
        } else if (st.current == null) {
            List<Found> candidates = ordered.stream().filter(x -> st.snapshots.containsKey(x.name)).toList();
            st.current = latestUnder(st.domain, candidates, g, Long.MAX_VALUE, null);
        }
        adoptOwned(st, g, mirror.owned(), notes);
        ctx.emitMetadata();
        return new RecoverReport(List.copyOf(recovered), st.current, List.copyOf(notes));
    }

    /** Every internal snapshot and every frozen image in the families of the domain's disks. */
    private static Map<String, Found> fromImages(DomainState st, ImageGraph g, List<String> notes) throws IOException {
        Map<String, Set<Path>> family = new LinkedHashMap<>();
        for (DiskDef d : st.domain.disks()) {
            family.put(d.target(), g.family(d.source()));
        }
        Map<String, Found> found = new LinkedHashMap<>();
        for (DiskDef d : st.domain.disks()) {
            for (Path f : family.get(d.target())) {
                ImageGraph.Node n = g.node(f);
                for (String name : n.internal) {
                    if (st.pending.contains(new DomainStore.PendingDelete(f, name))
                            || st.retired.contains(new DomainStore.Retired(f, name))
                            || !validName(name, "internal snapshot in " + f, notes)) {
                        continue;
                    }
                    Found x = found.computeIfAbsent(name, k -> new Found(k, n.internalDates.get(k)));
                    x.disks.put(d.target(), new SnapshotDisk(d.target(), SnapshotMode.INTERNAL, null, null));
                    x.imageAt.put(d.target(), f);
                    x.facts.add(new DomainStore.Retired(f, name));
                }
                List<ImageGraph.Node> deps = g.dependents(f);
                if (deps.isEmpty() || st.retired.contains(new DomainStore.Retired(f, null))) {
                    continue;
                }
                String name = externalName(f, deps);
                if (!validName(name, "external snapshot of frozen image " + f, notes)) {
                    continue;
                }
                // The snapshot's moment: when its first overlay was made.
                Path overlay = deps.stream().map(o -> o.path).min(Comparator.comparingLong(Recovery::bornNanos))
                        .orElseThrow();
                long born = bornNanos(overlay);
                Found x = found.computeIfAbsent(name, k -> new Found(k, born));
                x.disks.put(d.target(), new SnapshotDisk(d.target(), SnapshotMode.EXTERNAL, overlay, "qcow2"));
                x.imageAt.put(d.target(), f);
                x.facts.add(new DomainStore.Retired(f, null));
                x.time = Math.min(x.time, born);
            }
        }
        return found;
    }

    /**
     * Why the images no longer hold a mirror snapshot's data (an image gone, an internal
     * snapshot gone from its image), or null when they do. A snapshot's data is where its own
     * {@code <domain>} says the disks were: the frozen images of external disks (the overlays
     * made at the time may be gone since: a revert replaces them) and the holders of internal ones.
     * Those must be images of the domain's disk (connected to its current image by backing
     * links), as for {@code --redefine}: a mirror someone edited cannot point vmsnap at other files.
     */
    private static String missingData(SnapshotDef def, DomainState st, ImageGraph g) {
        for (SnapshotDisk d : def.disks()) {
            if (d.mode() != SnapshotMode.INTERNAL && d.mode() != SnapshotMode.EXTERNAL) {
                continue;
            }
            Path img = DomainState.imageAt(def, d.name());
            if (img == null) {
                continue; // a redefined snapshot without a <domain>: nothing to check against
            }
            img = img.toAbsolutePath().normalize();
            try {
                g.include(img);
            } catch (IOException e) {
                return "image " + img + " of disk " + d.name() + " is unreadable (" + e.getMessage() + ")";
            }
            if (!g.exists(img)) {
                return "image " + img + " of disk " + d.name() + " is gone";
            }
            DiskDef now = st.domain.disk(d.name()).orElse(null);
            try {
                if (now == null || !g.family(now.source()).contains(img)) {
                    return "image " + img + " is not one of the images of disk " + d.name()
                            + (now == null ? " (the domain has no such disk now)" : " (not in the backing chains of "
                            + now.source() + ")");
                }
            } catch (IOException e) {
                return "the images of disk " + d.name() + " are unreadable (" + e.getMessage() + ")";
            }
            if (d.mode() == SnapshotMode.INTERNAL && !g.node(img).internal.contains(def.name())) {
                return "image " + img + " of disk " + d.name() + " no longer holds it";
            }
        }
        return null;
    }

    /**
     * The images vmsnap made, as the mirror lists them: only files that are images of this
     * domain's disks (in a disk's family or named by the recovered metadata), since recover must
     * not let a mirror someone edited make vmsnap remove a file it did not make.
     */
    private static void adoptOwned(DomainState st, ImageGraph g, Set<Path> owned, List<String> notes)
            throws IOException {
        Set<Path> ours = new LinkedHashSet<>();
        for (DiskDef d : st.domain.disks()) {
            ours.addAll(g.family(d.source()));
        }
        for (Path p : st.namedFiles()) {
            ours.add(p.toAbsolutePath().normalize());
        }
        for (SnapshotDef s : st.snapshots.values()) {
            // A checkpoint's memory file: vmsnap's when it is in vmsnap's memory format (a mirror
            // someone edited could name any file; only a memory file vmsnap wrote is taken).
            Path m = s.memoryMode() == SnapshotMode.EXTERNAL ? s.memoryFile() : null;
            if (m != null && Files.isRegularFile(m, java.nio.file.LinkOption.NOFOLLOW_LINKS)
                    && org.vmsnap.qmp.MemoryFile.hasMagic(m)) {
                ours.add(m.toAbsolutePath().normalize());
            }
        }
        for (Path p : owned) {
            Path n = p.toAbsolutePath().normalize();
            if (ours.contains(n)) {
                st.owned.add(p);
            } else if (Files.exists(n)) {
                notes.add(p + ": listed by the mirror as made by vmsnap, but not an image of this domain's disks;"
                        + " vmsnap will not remove it");
            }
        }
    }

    /**
     * A domain defined again from the user's old XML may name images that are frozen by now:
     * the mirror's copy of the definition names the current ones; without it, the newest image
     * on top of the named one is taken.
     */
    private static void adoptCurrentImages(DomainState st, ImageGraph g, Mirror mirror, List<String> notes)
            throws IOException {
        Domain m = mirror.domain();
        if (m != null && m.disks().stream().allMatch(d -> Files.isRegularFile(d.source()))) {
            if (!m.equals(st.domain)) {
                st.domain = m;
                notes.add("definition (and the disks' current images): taken from the mirror's copy");
            }
        }
        // A current image never has overlays: one that has (a definition written before the
        // snapshots, or a mirror that only define wrote) is frozen, and the newest on it is current.
        for (DiskDef d : st.domain.disks()) {
            Set<Path> fam = g.family(d.source());
            Path newest = d.source();
            for (Path f : fam) {
                if (g.dependents(f).isEmpty() && g.chain(f).contains(d.source()) && mtimeMillis(f) > mtimeMillis(newest)) {
                    newest = f;
                }
            }
            if (!g.dependents(d.source()).isEmpty() && !newest.equals(d.source())) {
                st.domain = st.domain.withDisk(d.target(), newest, g.node(newest).format);
                notes.add("disk " + d.target() + ": " + d.source() + " is a frozen image; its newest overlay "
                        + newest + " is taken as the current image");
            }
        }
    }

    /**
     * Names read from images were not checked by vmsnap: one that cannot be a snapshot name
     * (a '/', a leading '.', a control character) is left out, with a note, never used as a
     * file name in the state folder.
     */
    private static boolean validName(String name, String where, List<String> notes) {
        try {
            org.vmsnap.manager.xml.Names.checkSnapshotName(name);
            return true;
        } catch (InvalidInputException e) {
            String shown = name.codePoints().mapToObj(c -> c < 0x20 || c == 0x7f ? String.format("\\x%02x", c)
                    : Character.toString(c)).collect(java.util.stream.Collectors.joining());
            notes.add(where + ": '" + shown + "' is not usable as a snapshot name (" + e.getMessage()
                    + "); not recovered");
            return false;
        }
    }

    private static long mtimeMillis(Path f) {
        try {
            return Files.getLastModifiedTime(f).toMillis();
        } catch (IOException e) {
            return 0;
        }
    }

    private static SnapshotDef inferred(Domain current, Found x, List<Found> all, ImageGraph g) {
        Domain at = current;
        List<SnapshotDisk> disks = new ArrayList<>();
        boolean external = false;
        for (DiskDef d : current.disks()) {
            SnapshotDisk sd = x.disks.get(d.target());
            if (sd == null) {
                disks.add(new SnapshotDisk(d.target(), SnapshotMode.NO, null, null));
                continue;
            }
            Path img = x.imageAt.get(d.target());
            at = at.withDisk(d.target(), img, g.node(img).format);
            disks.add(sd);
            external |= sd.mode() == SnapshotMode.EXTERNAL;
        }
        String parent = latestUnder(at, all, g, x.time, x.name);
        return new SnapshotDef(x.name, null, external ? "disk-snapshot" : "shutoff", x.time / 1_000_000_000L, parent,
                SnapshotMode.NO, null, disks, at);
    }

    /**
     * The latest snapshot older than {@code before} (or as old, by name order) whose image is
     * in the chain of {@code domain}'s disks: below the images for external snapshots, the
     * image itself or below for internal ones.
     */
    private static String latestUnder(Domain domain, List<Found> all, ImageGraph g, long before, String self) {
        String best = null;
        long bestTime = Long.MIN_VALUE;
        for (Found y : all) {
            if (y.name.equals(self) || y.time > before) {
                continue;
            }
            boolean under = false;
            for (DiskDef d : domain.disks()) {
                Path img = y.imageAt.get(d.target());
                if (img == null) {
                    continue;
                }
                List<Path> chain = g.chain(d.source());
                SnapshotDisk sd = y.disks.get(d.target());
                under |= sd.mode() == SnapshotMode.INTERNAL ? chain.contains(img)
                        : chain.indexOf(img) > 0;
            }
            if (under && y.time >= bestTime) {
                best = y.name;
                bestTime = y.time;
            }
        }
        return best;
    }

    /** The overlays are named {@code <stem>.<snapshot>} (a revert's own: {@code -N} added). */
    private static String externalName(Path frozen, List<ImageGraph.Node> deps) {
        String stem = PlanContext.stem(frozen);
        String best = null;
        for (ImageGraph.Node o : deps) {
            String n = o.path.getFileName().toString();
            if (n.startsWith(stem + ".") && n.length() > stem.length() + 1) {
                String candidate = n.substring(stem.length() + 1);
                if (best == null || candidate.length() < best.length()) {
                    best = candidate;
                }
            }
        }
        if (best == null) {
            return "recovered-" + frozen.getFileName();
        }
        String stripped = best.replaceFirst("-\\d+$", "");
        return stripped.isEmpty() ? best : stripped;
    }

    /** The file's birth time where the file system records it, else its modification time (ns). */
    private static long bornNanos(Path f) {
        try {
            var attrs = Files.readAttributes(f, java.nio.file.attribute.BasicFileAttributes.class);
            return attrs.creationTime().to(java.util.concurrent.TimeUnit.NANOSECONDS);
        } catch (IOException e) {
            return 0;
        }
    }

    private static Mirror readMirror(Path mirror, String domainName, List<String> notes) {
        Map<String, SnapshotDef> out = new LinkedHashMap<>();
        if (mirror == null || !Files.isDirectory(mirror)) {
            return new Mirror(null, out, null, Set.of(), Set.of());
        }
        Domain domain = null;
        try {
            String xml = AtomicFiles.readOrNull(mirror.resolve("domain.xml"));
            if (xml != null) {
                domain = Domain.parse(xml);
                if (!domain.name().equals(domainName)) {
                    notes.add(mirror.resolve("domain.xml") + ": defines domain '" + domain.name() + "', not '"
                            + domainName + "'; its definition is not used");
                    domain = null;
                }
            }
        } catch (IOException e) {
            notes.add(mirror.resolve("domain.xml") + ": unreadable (" + e.getMessage() + ")");
        }
        try (DirectoryStream<Path> files = Files.newDirectoryStream(mirror, "*.xml")) {
            for (Path f : files) {
                if (f.getFileName().toString().equals("domain.xml") || f.getFileName().toString().startsWith(".")) {
                    continue;
                }
                try {
                    SnapshotDef d = SnapshotXml.parseStored(Files.readString(f, StandardCharsets.UTF_8));
                    out.put(d.name(), d);
                } catch (IOException e) {
                    notes.add(f + ": unreadable mirror copy (" + e.getMessage() + ")");
                }
            }
        } catch (IOException e) {
            notes.add(mirror + ": mirror unreadable (" + e.getMessage() + ")");
        }
        String current = null;
        Set<Path> owned = new LinkedHashSet<>();
        Set<DomainStore.Retired> retired = Set.of();
        try {
            current = DomainStore.currentName(AtomicFiles.readOrNull(mirror.resolve("current")));
            String ownedText = AtomicFiles.readOrNull(mirror.resolve("owned"));
            if (ownedText != null) {
                ownedText.lines().filter(l -> !l.isBlank()).forEach(l -> owned.add(Path.of(l)));
            }
            retired = DomainStore.parseRetired(AtomicFiles.readOrNull(mirror.resolve("retired")));
        } catch (IOException | java.nio.file.InvalidPathException e) {
            notes.add(mirror + ": mirror unreadable (" + e.getMessage() + ")");
        }
        return new Mirror(domain, out, current, owned, retired);
    }
}
