package org.vmsnap.manager.scenario;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;

import org.vmsnap.manager.CreateFlags;
import org.vmsnap.manager.DeleteScope;
import org.vmsnap.manager.DomainService;
import org.vmsnap.manager.RecoverReport;
import org.vmsnap.manager.SnapshotService;
import org.vmsnap.manager.SnapshotTree;
import org.vmsnap.manager.xml.DiskDef;
import org.vmsnap.manager.xml.Domain;
import org.vmsnap.manager.xml.SnapshotDef;
import org.vmsnap.manager.xml.SnapshotDisk;
import org.vmsnap.manager.xml.SnapshotMode;
import org.vmsnap.qcow2.BlockDevice;
import org.vmsnap.qcow2.ImageInfo;
import org.vmsnap.qcow2.Images;
import org.vmsnap.qcow2.OpenOptions;
import org.vmsnap.qcow2.Qcow2Image;
import org.vmsnap.qcow2.SnapshotInfo;
import org.vmsnap.testkit.QemuImg;

/**
 * A shut-off domain with N disks (qcow2 made by {@code qemu-img create}, raw) driven through the
 * public service API, next to a {@link Model} of what every disk and every snapshot must read.
 * Every operation updates the model only when the service succeeded; {@link #verify()} compares
 * everything vmsnap keeps with the model: the tree and current snapshot, each disk's current
 * bytes, each snapshot's bytes (read from the image that holds them, without reverting), the
 * image files (no orphan, nothing missing, user files never removed, no stray internal snapshot),
 * {@code qemu-img check} of every qcow2 file, a finished journal and the metadata mirror.
 */
final class ScenarioFixture {
    static final String DOMAIN = "vm";
    static final int CLUSTER = 64 << 10;
    static final CreateFlags NONE = CreateFlags.none();
    static final CreateFlags DISK_ONLY = new CreateFlags(false, false, false, true, false);
    static final CreateFlags NO_METADATA = new CreateFlags(false, false, true, false, false);
    static final SnapshotMode I = SnapshotMode.INTERNAL;
    static final SnapshotMode E = SnapshotMode.EXTERNAL;
    static final SnapshotMode N = SnapshotMode.NO;

    /** A disk to make: format, size in MiB, and whether it gets a folder of its own. */
    record DiskSpec(String format, int mib, boolean ownFolder) {
        static DiskSpec qcow2(int mib) {
            return new DiskSpec("qcow2", mib, false);
        }

        static DiskSpec raw(int mib) {
            return new DiskSpec("raw", mib, false);
        }

        DiskSpec inOwnFolder() {
            return new DiskSpec(format, mib, true);
        }
    }

    final Path root;
    final Path home;
    DomainService domains;
    final List<String> targets = new ArrayList<>();
    /** The images the user made: vmsnap must never remove them. */
    final Map<String, Path> userFiles = new LinkedHashMap<>();
    final Set<Path> folders = new LinkedHashSet<>();
    final String xml;
    Model model;
    /** Files that may exist without any reference (left by --metadata deletes, which touch no image). */
    final Set<Path> allowedUnreferenced = new HashSet<>();
    /** Internal snapshots that may exist without metadata ("file|name"), also left by --metadata. */
    final Set<String> allowedInternal = new HashSet<>();
    /** Every snapshot name a create was asked for. */
    final Set<String> usedNames = new LinkedHashSet<>();
    private final Set<List<Object>> checked = new HashSet<>();
    private int tags;

    private ScenarioFixture(Path root, DiskSpec... specs) throws IOException {
        this.root = root;
        this.home = root.resolve("home");
        Path shared = Files.createDirectories(root.resolve("disks"));
        StringBuilder disksXml = new StringBuilder();
        Map<String, DiskData> data = new LinkedHashMap<>();
        for (int i = 0; i < specs.length; i++) {
            DiskSpec spec = specs[i];
            String target = "vd" + (char) ('a' + i);
            Path folder = spec.ownFolder() ? Files.createDirectories(root.resolve("disks-" + target)) : shared;
            Path file = folder.resolve("disk" + i + (spec.format().equals("qcow2") ? ".qcow2" : ".img"));
            long size = (long) spec.mib() << 20;
            if (spec.format().equals("qcow2")) {
                QemuImg.create(file, "qcow2", size, "cluster_size=" + CLUSTER);
            } else {
                QemuImg.create(file, "raw", size);
            }
            targets.add(target);
            userFiles.put(target, file);
            folders.add(folder);
            data.put(target, DiskData.zeros(size));
            disksXml.append("""
                        <disk type='file' device='disk'>
                          <driver name='qemu' type='%s'/>
                          <source file='%s'/>
                          <target dev='%s' bus='virtio'/>
                        </disk>
                    """.formatted(spec.format(), file, target));
        }
        xml = """
                <domain type='kvm'>
                  <name>%s</name>
                  <memory unit='KiB'>65536</memory>
                  <vcpu>1</vcpu>
                  <os><type arch='x86_64'>hvm</type></os>
                  <devices>
                %s  </devices>
                </domain>
                """.formatted(DOMAIN, disksXml);
        domains = new DomainService(home);
        domains.define(xml);
        model = Model.empty(data);
    }

    static ScenarioFixture create(Path root, DiskSpec... specs) throws IOException {
        return new ScenarioFixture(root, specs);
    }

    /** Two 4 MiB qcow2 disks. */
    static ScenarioFixture twoQcow2(Path root) throws IOException {
        return create(root, DiskSpec.qcow2(4), DiskSpec.qcow2(4));
    }

    SnapshotService service() throws IOException {
        return domains.snapshots(DOMAIN);
    }

    /** A new DomainService on the same home, as the next vmsnap process would open it. */
    void reopen() {
        domains = new DomainService(home);
    }

    // ---------------------------------------------------------------- data

    /** A byte that depends on the write's tag and on its disk offset, never zero. */
    static byte patternByte(int tag, long pos) {
        long x = (pos >>> 2) * 0x9E3779B97F4A7C15L ^ (tag + 1L) * 0xC2B2AE3D27D4EB4FL;
        x ^= x >>> 31;
        x *= 0xBF58476D1CE4E5B9L;
        x ^= x >>> 29;
        return (byte) (x | 1);
    }

    /** Writes a pattern of a new tag at {@code offset} into the disk's current image. */
    void write(String target, long offset, int length) throws IOException {
        write(target, List.of(new long[] {offset, length}));
    }

    /** Writes (offset, length) ranges, one new tag for all, through one open of the disk's current image. */
    void write(String target, List<long[]> ranges) throws IOException {
        int tag = ++tags;
        DiskDef disk = domains.get(DOMAIN).disk(target).orElseThrow();
        Model m = model;
        try (BlockDevice d = Images.open(disk.source(), OpenOptions.readWrite().withFormat(disk.format()))) {
            for (long[] r : ranges) {
                byte[] b = new byte[Math.toIntExact(r[1])];
                for (int i = 0; i < b.length; i++) {
                    b[i] = patternByte(tag, r[0] + i);
                }
                d.write(r[0], ByteBuffer.wrap(b));
                m = m.write(target, r[0], b);
            }
            d.flush();
        }
        model = m;
    }

    /**
     * A distinct pattern into every disk: the first 4 KiB, a range with partial clusters at both
     * ends, a 3000-byte piece inside one cluster that moves with every call, and a range across the
     * boundary before the last cluster.
     */
    void fill() throws IOException {
        for (String t : targets) {
            long size = model.disks.get(t).size();
            long clusters = size / CLUSTER;
            long moving = (5 + (tags * 7L) % (clusters - 8)) * CLUSTER + 512;
            write(t, List.of(new long[] {0, 4096}, new long[] {3L * CLUSTER + 1000, 70000},
                    new long[] {moving, 3000}, new long[] {size - CLUSTER - 300, 600}));
        }
    }

    // ---------------------------------------------------------------- operations

    /** The modes a create request leads to: as given per disk (null: the default), else internal, or external with --disk-only. */
    Map<String, SnapshotMode> expectedModes(CreateFlags flags, SnapshotMode... modes) {
        Map<String, SnapshotMode> out = new LinkedHashMap<>();
        for (int i = 0; i < targets.size(); i++) {
            SnapshotMode m = i < modes.length ? modes[i] : null;
            out.put(targets.get(i), m != null ? m : flags.diskOnly() ? E : I);
        }
        return out;
    }

    static SnapshotDef request(String name, List<String> targets, SnapshotMode... modes) {
        List<SnapshotDisk> disks = new ArrayList<>();
        for (int i = 0; i < modes.length; i++) {
            if (modes[i] != null) {
                disks.add(new SnapshotDisk(targets.get(i), modes[i], null, null));
            }
        }
        return new SnapshotDef(name, "scenario " + name, null, 0, null, null, null, disks, null);
    }

    /** The model after a create (for crash tests, which compare with it). */
    Model afterCreate(String name, CreateFlags flags, SnapshotMode... modes) {
        return model.create(name, expectedModes(flags, modes), flags.noMetadata());
    }

    /** snapshot-create; checks what was recorded (modes, state, overlay names and their mode 0600). */
    SnapshotDef create(String name, CreateFlags flags, SnapshotMode... modes) throws IOException {
        Domain before = domains.get(DOMAIN);
        Model after = afterCreate(name, flags, modes);
        usedNames.add(name);
        Map<String, Path> overlays = new LinkedHashMap<>();
        for (String t : targets) {
            overlays.put(t, expectedOverlay(t, name));
        }
        SnapshotDef made = service().create(request(name, targets, modes), flags);
        model = after;
        Map<String, SnapshotMode> expected = expectedModes(flags, modes);
        assertThat(made.name()).isEqualTo(name);
        for (String t : targets) {
            SnapshotDisk d = made.disk(t);
            assertThat(d).as("disk %s of %s", t, name).isNotNull();
            assertThat(d.mode()).as("mode of disk %s of %s", t, name).isEqualTo(expected.get(t));
            Path was = before.disk(t).orElseThrow().source();
            assertThat(made.domain().disk(t).orElseThrow().source()).as("image of %s in %s", t, name).isEqualTo(was);
            if (d.mode() == E) {
                Path overlay = overlays.get(t);
                assertThat(d.source()).as("overlay of %s in %s", t, name).isEqualTo(overlay);
                assertThat(domains.get(DOMAIN).disk(t).orElseThrow().source()).isEqualTo(overlay);
                assertThat(Files.getPosixFilePermissions(overlay)).as("mode of %s", overlay)
                        .containsExactlyInAnyOrder(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE);
            } else {
                assertThat(domains.get(DOMAIN).disk(t).orElseThrow().source()).isEqualTo(was);
            }
        }
        // libvirt 9.0 records the domain's state: every snapshot of a shut-off domain is "shutoff".
        assertThat(made.state()).as("state of %s", name).isEqualTo("shutoff");
        return made;
    }

    /**
     * The overlay a new external snapshot gets: the stem of the disk's own image (the user's file,
     * whatever overlays are on it now) dot the snapshot name, with -N when that name is taken.
     */
    private Path expectedOverlay(String target, String name) {
        Path user = userFiles.get(target);
        String stem = user.getFileName().toString();
        stem = stem.contains(".") ? stem.substring(0, stem.lastIndexOf('.')) : stem;
        Path p = user.resolveSibling(stem + "." + name);
        for (int n = 1; Files.exists(p); n++) {
            p = user.resolveSibling(stem + "." + name + "-" + n);
        }
        return p;
    }

    void revert(String name) throws IOException {
        Model after = model.revert(name);
        service().revert(name, false);
        model = after;
    }

    List<String> delete(String name, DeleteScope scope) throws IOException {
        Model before = model;
        Model after = model.delete(name, scope);
        List<String> deleted = service().delete(name, scope, false);
        model = after;
        assertThat(deleted).as("deleted by %s %s", name, scope)
                .containsExactlyInAnyOrderElementsOf(difference(before, after));
        return deleted;
    }

    /** --metadata: the model forgets the snapshots; their images and internal snapshots may stay. */
    void deleteMetadata(String name, DeleteScope scope) throws IOException {
        Model before = model;
        Model after = model.delete(name, scope);
        SnapshotTree tree = service().tree();
        Set<Path> referenced = referencedFiles(service().domain(), tree.all());
        Set<String> gone = new HashSet<>(before.snaps.keySet());
        gone.removeAll(after.snaps.keySet());
        service().delete(name, scope, true);
        model = after;
        allowedUnreferenced.addAll(referenced);
        for (SnapshotDef s : tree.all()) {
            if (gone.contains(s.name())) {
                for (SnapshotDisk d : s.disks()) {
                    if (d.mode() == I) {
                        allowedInternal.add(s.domain().disk(d.name()).orElseThrow().source() + "|" + s.name());
                    }
                }
            }
        }
    }

    /** recover: hidden (--no-metadata) snapshots come back; the model takes their parents as recovered. */
    RecoverReport recover() throws IOException {
        RecoverReport r = service().recover();
        SnapshotTree tree = service().tree();
        Map<String, String> parents = new HashMap<>();
        for (String h : model.hidden.keySet()) {
            parents.put(h, tree.get(h).parent());
        }
        assertThat(r.snapshots()).as("recovered").containsAll(model.hidden.keySet());
        model = model.recovered(parents, tree.current());
        return r;
    }

    private static Set<String> difference(Model a, Model b) {
        Set<String> out = new HashSet<>(a.snaps.keySet());
        out.removeAll(b.snaps.keySet());
        return out;
    }

    // ---------------------------------------------------------------- verification

    /** Reverts to every snapshot in turn (oldest first), verifying everything after each revert. */
    void verifyByReverting() throws IOException {
        for (String name : List.copyOf(model.snaps.keySet())) {
            revert(name);
            verify();
        }
    }

    void verify() throws IOException {
        verify(model);
    }

    /** Everything vmsnap keeps agrees with {@code m}; see the class comment. */
    void verify(Model m) throws IOException {
        SnapshotService s = service();
        SnapshotTree tree = s.tree();
        Domain domain = s.domain();

        // The tree and the current snapshot.
        Map<String, String> parents = new TreeMap<>();
        for (SnapshotDef d : tree.all()) {
            parents.put(d.name(), String.valueOf(d.parent()));
        }
        Map<String, String> expectedParents = new TreeMap<>();
        for (Model.Snap d : m.snaps.values()) {
            expectedParents.put(d.name(), String.valueOf(d.parent()));
        }
        assertThat(parents).as("snapshots and their parents").isEqualTo(expectedParents);
        assertThat(tree.current()).as("current snapshot").isEqualTo(m.current);

        // Current bytes of every disk.
        for (String t : targets) {
            DiskDef disk = domain.disk(t).orElseThrow();
            assertThat(disk.source()).as("current image of %s", t).isRegularFile();
            try (BlockDevice d = Images.open(disk.source(), OpenOptions.readOnlyOpen().withFormat(disk.format()))) {
                m.disks.get(t).assertReads(d, "current state of disk " + t);
            }
        }

        // Every snapshot's bytes, read where they are kept.
        for (SnapshotDef d : tree.all()) {
            Model.Snap want = m.snaps.get(d.name());
            for (String t : targets) {
                SnapshotDisk sd = d.disk(t);
                assertThat(sd).as("disk %s of snapshot %s", t, d.name()).isNotNull();
                assertThat(sd.mode()).as("mode of disk %s of snapshot %s", t, d.name()).isEqualTo(want.modes().get(t));
                if (sd.mode() == N) {
                    continue;
                }
                DiskDef at = d.domain().disk(t).orElseThrow();
                String what = "disk " + t + " of snapshot " + d.name() + " (" + sd.mode().xmlName() + ")";
                assertThat(at.source()).as("image of %s", what).isRegularFile();
                if (sd.mode() == I) {
                    try (Qcow2Image img = Qcow2Image.open(at.source(), OpenOptions.readOnlyOpen().withFormat("qcow2"));
                            BlockDevice view = img.readSnapshot(d.name())) {
                        want.data().get(t).assertReads(view, what);
                    }
                } else {
                    try (BlockDevice img = Images.open(at.source(),
                            OpenOptions.readOnlyOpen().withFormat(at.format()))) {
                        want.data().get(t).assertReads(img, what);
                    }
                }
            }
        }

        // Files: every file in the disk folders is needed, everything needed exists.
        Set<Path> referenced = referencedFiles(domain, tree.all());
        Set<Path> present = presentFiles();
        for (Path p : present) {
            // The user's own images stay even when nothing needs them any more: vmsnap removes only what it made.
            if (!referenced.contains(p) && !allowedUnreferenced.contains(p) && !userFiles.containsValue(p)) {
                throw new AssertionError("orphan image " + p + ": neither the domain nor any snapshot needs it;"
                        + " referenced: " + new TreeSet<>(referenced));
            }
        }
        for (Path u : userFiles.values()) {
            assertThat(u).as("the user's image").isRegularFile();
        }

        // Internal snapshots: exactly those of the metadata (plus what --metadata or --no-metadata left).
        Map<Path, Set<String>> expectedInternal = new HashMap<>();
        for (SnapshotDef d : tree.all()) {
            for (SnapshotDisk sd : d.disks()) {
                if (sd.mode() == I) {
                    expectedInternal.computeIfAbsent(d.domain().disk(sd.name()).orElseThrow().source(),
                            k -> new TreeSet<>()).add(d.name());
                }
            }
        }
        List<Path> qcow2 = new ArrayList<>();
        for (Path p : present) {
            if (!Images.probeFormat(p).equals("qcow2")) {
                continue;
            }
            Set<String> names = new TreeSet<>();
            for (SnapshotInfo i : Images.info(p, OpenOptions.readOnlyOpen().withFormat("qcow2")).snapshots()) {
                names.add(i.name());
            }
            Set<String> want = expectedInternal.getOrDefault(p, Set.of());
            Set<String> extra = new TreeSet<>(names);
            extra.removeAll(want);
            extra.removeIf(n -> allowedInternal.contains(p + "|" + n) || m.hidden.containsKey(n));
            assertThat(names).as("internal snapshots in %s", p).containsAll(want);
            assertThat(extra).as("internal snapshots in %s that no snapshot owns", p).isEmpty();
            qcow2.add(p);
        }
        qemuImgCheck(qcow2);

        // No operation left half done; the mirror beside the images says what the state folder says.
        Path store = home.resolve(DOMAIN);
        assertThat(store.resolve("journal")).as("journal after a finished command").doesNotExist();
        Path mirror = domain.disks().getFirst().source().toAbsolutePath().getParent().resolve("." + DOMAIN + ".vmsnap");
        Map<String, String> mirrored = metadataFiles(mirror);
        Map<String, String> stored = metadataFiles(store);
        if (!mirrored.containsKey("domain.xml")) {
            stored.remove("domain.xml"); // define writes no mirror; the first snapshot command does
        }
        assertThat(mirrored.keySet()).as("files of the metadata mirror %s", mirror)
                .containsExactlyInAnyOrderElementsOf(stored.keySet());
        for (String k : stored.keySet()) {
            assertThat(mirrored.get(k)).as("%s in the metadata mirror %s", k, mirror).isEqualTo(stored.get(k));
        }
    }

    /** The metadata a folder holds: domain.xml, the snapshot XML (in snapshots/ or flat), current. */
    private static Map<String, String> metadataFiles(Path dir) throws IOException {
        Map<String, String> out = new TreeMap<>();
        if (!Files.isDirectory(dir)) {
            return out;
        }
        for (Path base : List.of(dir, dir.resolve("snapshots"))) {
            if (!Files.isDirectory(base)) {
                continue;
            }
            try (Stream<Path> files = Files.list(base)) {
                for (Path f : files.filter(Files::isRegularFile).toList()) {
                    String n = f.getFileName().toString();
                    if (n.endsWith(".xml") || n.equals("current")) {
                        out.put(n, Files.readString(f));
                    }
                }
            }
        }
        return out;
    }

    /** The image files in the disk folders (hidden entries, like the mirror, left out). */
    Set<Path> presentFiles() throws IOException {
        Set<Path> out = new TreeSet<>();
        for (Path folder : folders) {
            try (Stream<Path> files = Files.list(folder)) {
                files.filter(f -> !f.getFileName().toString().startsWith(".")).filter(Files::isRegularFile)
                        .forEach(f -> out.add(f.toAbsolutePath().normalize()));
            }
        }
        return out;
    }

    /** The domain's images and every snapshot's, with their backing chains; all must exist. */
    static Set<Path> referencedFiles(Domain domain, Collection<SnapshotDef> snapshots) throws IOException {
        Deque<DiskDef> todo = new ArrayDeque<>(domain.disks());
        for (SnapshotDef s : snapshots) {
            for (SnapshotDisk sd : s.disks()) {
                if (sd.mode() != N) {
                    todo.add(s.domain().disk(sd.name()).orElseThrow());
                }
            }
        }
        Set<Path> out = new HashSet<>();
        Map<Path, String> namedBy = new HashMap<>();
        while (!todo.isEmpty()) {
            DiskDef d = todo.poll();
            Path p = d.source().toAbsolutePath().normalize();
            if (!out.add(p)) {
                continue;
            }
            if (!Files.isRegularFile(p)) {
                throw new AssertionError("image " + p + " of disk " + d.target() + " is missing"
                        + (namedBy.containsKey(p) ? " (backing file of " + namedBy.get(p) + ")" : ""));
            }
            ImageInfo info = Images.info(p, OpenOptions.readOnlyOpen().withFormat(d.format()));
            if (info.fullBackingFilename() != null) {
                Path b = Path.of(info.fullBackingFilename()).toAbsolutePath().normalize();
                namedBy.put(b, p.toString());
                String fmt = info.backingFilenameFormat() != null ? info.backingFilenameFormat() : "raw";
                todo.add(new DiskDef(d.target(), null, "disk", b, fmt, true));
            }
        }
        return out;
    }

    /**
     * qemu-img check must find nothing (not even leaks) in any of the files; files unchanged since
     * their last check are skipped, the others are checked by a few qemu-img processes at once.
     */
    void qemuImgCheck(Collection<Path> files) throws IOException {
        List<List<Object>> keys = new ArrayList<>();
        for (Path p : files) {
            BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
            List<Object> key = List.of(p, a.size(), a.lastModifiedTime(), String.valueOf(a.fileKey()));
            if (!checked.contains(key)) {
                keys.add(key);
            }
        }
        List<String> problems = java.util.Collections.synchronizedList(new ArrayList<>());
        try (var pool = java.util.concurrent.Executors.newFixedThreadPool(Math.max(1, Math.min(4, keys.size())))) {
            for (List<Object> key : keys) {
                pool.submit(() -> {
                    Path p = (Path) key.getFirst();
                    try {
                        QemuImg.CheckOutcome c = QemuImg.check(p);
                        if (!c.clean()) {
                            problems.add("qemu-img check " + p + " exit " + c.exitCode() + ": " + c.json() + " "
                                    + c.stderr());
                        }
                    } catch (Throwable e) {
                        problems.add("qemu-img check " + p + ": " + e);
                    }
                });
            }
        }
        if (!problems.isEmpty()) {
            throw new AssertionError(String.join("\n", problems));
        }
        checked.addAll(keys);
    }

    // ---------------------------------------------------------------- "nothing changed"

    /**
     * Everything a failed operation must leave as it was: the file names in the disk folders, the
     * internal snapshots of each qcow2 file, and every metadata file (state folder and mirror).
     */
    /** What is on disk: the files, their internal snapshots, a digest of each file's bytes, the metadata. */
    record Footprint(Set<Path> files, Map<Path, List<String>> internal, Map<Path, String> digests,
                     Map<String, String> metadata) {
    }

    Footprint footprint() throws IOException {
        Set<Path> files = presentFiles();
        Map<Path, List<String>> internal = new TreeMap<>();
        for (Path p : files) {
            if (Images.probeFormat(p).equals("qcow2")) {
                // -U: a running qemu-io may hold the image (the failure tests)
                internal.put(p, Images.info(p, OpenOptions.readOnlyOpen().withForceShare(true).withFormat("qcow2"))
                        .snapshots().stream()
                        .map(SnapshotInfo::name).toList());
            }
        }
        Map<Path, String> digests = new TreeMap<>();
        for (Path p : files) {
            try {
                digests.put(p, java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                        .digest(Files.readAllBytes(p))));
            } catch (java.security.NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }
        Map<String, String> metadata = new TreeMap<>();
        for (Path folder : folders) {
            Path mirror = folder.resolve("." + DOMAIN + ".vmsnap");
            metadataFiles(mirror).forEach((k, v) -> metadata.put("mirror " + folder + "/" + k, v));
        }
        metadataFiles(home.resolve(DOMAIN)).forEach((k, v) -> metadata.put("store/" + k, v));
        Path owned = home.resolve(DOMAIN).resolve("owned");
        if (Files.exists(owned)) {
            metadata.put("store/owned", Files.readString(owned));
        }
        return new Footprint(files, internal, digests, metadata);
    }
}
