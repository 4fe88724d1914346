package org.vmsnap.manager;

import org.vmsnap.testkit.ShutOffDomainXml;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.manager.xml.SnapshotDef;
import org.vmsnap.manager.xml.SnapshotDisk;
import org.vmsnap.manager.xml.SnapshotMode;
import org.vmsnap.qcow2.BlockDevice;
import org.vmsnap.qcow2.Images;
import org.vmsnap.qcow2.OpenOptions;
import org.vmsnap.qcow2.Qcow2CreateOptions;
import org.vmsnap.qcow2.Qcow2Image;

/** The service end to end on real image files: create, revert and delete keep every snapshot's data. */
class SnapshotServiceTest {
    static final long SIZE = 4 << 20;

    @TempDir
    Path tmp;
    DomainService domains;
    Path vda;
    Path vdb;

    String xml;

    @BeforeEach
    void setUp() throws IOException {
        domains = new DomainService(tmp.resolve("home"));
        Path disks = Files.createDirectories(tmp.resolve("disks"));
        vda = disks.resolve("a.qcow2");
        vdb = disks.resolve("b.qcow2");
        Qcow2Image.create(vda, Qcow2CreateOptions.ofSize(SIZE)).close();
        Qcow2Image.create(vdb, Qcow2CreateOptions.ofSize(SIZE)).close();
        xml = ShutOffDomainXml.of("vm1", vda, vdb);
        domains.define(xml);
    }

    static SnapshotDef request(String name, SnapshotMode... modes) {
        List<SnapshotDisk> disks = modes.length == 0 ? List.of()
                : List.of(new SnapshotDisk("vda", modes[0], null, null), new SnapshotDisk("vdb", modes[1], null, null));
        return new SnapshotDef(name, null, null, 0, null, null, null, disks, null);
    }

    void write(String target, byte value) throws IOException {
        Path file = domains.snapshots("vm1").domain().disk(target).orElseThrow().source();
        try (BlockDevice d = Images.open(file, OpenOptions.readWrite())) {
            byte[] b = new byte[70000];
            java.util.Arrays.fill(b, value);
            d.write(12345, ByteBuffer.wrap(b));
            d.flush();
        }
    }

    byte read(String target) throws IOException {
        Path file = domains.snapshots("vm1").domain().disk(target).orElseThrow().source();
        try (BlockDevice d = Images.open(file, OpenOptions.readOnlyOpen())) {
            ByteBuffer b = ByteBuffer.allocate(70000);
            d.read(12345, b);
            byte v = b.get(0);
            for (int i = 0; i < b.capacity(); i++) {
                assertThat(b.get(i)).as("byte %d of %s", i, file).isEqualTo(v);
            }
            return v;
        }
    }

    @Test
    void internalAndExternalTreeRevertsAndDeletes() throws IOException {
        SnapshotService s = domains.snapshots("vm1");
        write("vda", (byte) 1);
        write("vdb", (byte) 11);
        s.create(request("s1"), CreateFlags.none());
        write("vda", (byte) 2);
        write("vdb", (byte) 12);
        s.create(request("s2"), new CreateFlags(false, false, false, true, false));
        assertThat(s.domain().disk("vda").orElseThrow().source()).isEqualTo(vda.resolveSibling("a.s2"));
        write("vda", (byte) 3);
        write("vdb", (byte) 13);
        s.create(request("s3", SnapshotMode.INTERNAL, SnapshotMode.EXTERNAL), CreateFlags.none());
        write("vda", (byte) 4);
        write("vdb", (byte) 14);

        s.revert("s1", false);
        assertThat(read("vda")).isEqualTo((byte) 1);
        assertThat(read("vdb")).isEqualTo((byte) 11);
        s.revert("s2", false);
        assertThat(read("vda")).isEqualTo((byte) 2);
        assertThat(read("vdb")).isEqualTo((byte) 12);
        s.revert("s3", false);
        assertThat(read("vda")).isEqualTo((byte) 3);
        assertThat(read("vdb")).isEqualTo((byte) 13);
        assertThat(s.tree().current()).isEqualTo("s3");

        s.delete("s2", DeleteScope.SNAPSHOT, false);
        assertThat(s.tree().get("s3").parent()).isEqualTo("s1");
        s.revert("s1", false);
        assertThat(read("vda")).isEqualTo((byte) 1);
        s.revert("s3", false);
        assertThat(read("vda")).isEqualTo((byte) 3);
        assertThat(read("vdb")).isEqualTo((byte) 13);
        s.delete("s1", DeleteScope.CHILDREN, false);
        assertThat(s.tree().all()).isEmpty();
        assertThat(read("vda")).isEqualTo((byte) 3);
        assertThat(read("vdb")).isEqualTo((byte) 13);
        try (var files = Files.list(vda.getParent())) {
            assertThat(files.filter(p -> !p.getFileName().toString().startsWith(".")).count()).isLessThanOrEqualTo(3);
        }
    }

    /** s1 (internal) <- s2 (external) <- s3 (mixed), then a branch: revert s1, s4 (internal). */
    SnapshotService buildTree() throws IOException {
        SnapshotService s = domains.snapshots("vm1");
        write("vda", (byte) 1);
        s.create(request("s1").withDescription("first"), CreateFlags.none());
        write("vda", (byte) 2);
        s.create(request("s2"), new CreateFlags(false, false, false, true, false));
        write("vda", (byte) 3);
        s.create(request("s3", SnapshotMode.INTERNAL, SnapshotMode.EXTERNAL), CreateFlags.none());
        s.revert("s2", false);
        write("vda", (byte) 4);
        s.create(request("s4"), CreateFlags.none());
        write("vda", (byte) 5);
        return s;
    }

    @Test
    void recoverFromTheMirrorRestoresEverything() throws IOException {
        SnapshotService s = buildTree();
        SnapshotTree before = s.tree();
        var domainBefore = s.domain();
        deleteTree(tmp.resolve("home"));
        domains.define(xml);
        RecoverReport r = domains.snapshots("vm1").recover();
        SnapshotTree after = domains.snapshots("vm1").tree();
        assertThat(after.all()).isEqualTo(before.all());
        assertThat(after.current()).isEqualTo("s4");
        assertThat(r.snapshots()).containsExactlyInAnyOrder("s1", "s2", "s3", "s4");
        assertThat(domains.snapshots("vm1").domain().disks()).isEqualTo(domainBefore.disks());
        assertThat(read("vda")).isEqualTo((byte) 5);
        domains.snapshots("vm1").revert("s3", false);
        assertThat(read("vda")).isEqualTo((byte) 3);
    }

    @Test
    void recoverFromTheImagesAloneRestoresNamesTreeAndCurrent() throws IOException {
        SnapshotService s = buildTree();
        SnapshotTree before = s.tree();
        deleteTree(tmp.resolve("home"));
        deleteTree(vda.resolveSibling(".vm1.vmsnap"));
        domains.define(xml);
        RecoverReport r = domains.snapshots("vm1").recover();
        SnapshotTree after = domains.snapshots("vm1").tree();
        assertThat(after.all()).extracting(SnapshotDef::name).containsExactlyInAnyOrder("s1", "s2", "s3", "s4");
        for (SnapshotDef d : before.all()) {
            assertThat(after.get(d.name()).parent()).as("parent of %s", d.name()).isEqualTo(d.parent());
        }
        assertThat(after.current()).isEqualTo("s4");
        assertThat(r.notes()).isNotEmpty();
        assertThat(read("vda")).isEqualTo((byte) 5);
        for (String[] c : new String[][] {{"s1", "1"}, {"s2", "2"}, {"s3", "3"}, {"s4", "4"}}) {
            domains.snapshots("vm1").revert(c[0], false);
            assertThat(read("vda")).as("revert to %s", c[0]).isEqualTo(Byte.parseByte(c[1]));
        }
    }

    @Test
    void noMetadataSnapshotsComeBackWithRecoverAndRedefineChecksPaths() throws IOException {
        SnapshotService s = domains.snapshots("vm1");
        write("vda", (byte) 7);
        s.create(request("hidden"), new CreateFlags(false, false, true, false, false));
        assertThat(s.tree().all()).isEmpty();
        write("vda", (byte) 8);
        RecoverReport r = s.recover();
        assertThat(r.snapshots()).containsExactly("hidden");
        s.revert("hidden", false);
        assertThat(read("vda")).isEqualTo((byte) 7);

        String bad = org.vmsnap.manager.xml.SnapshotXml.format(s.tree().get("hidden").withName("evil")
                .withDomain(s.domain().withDisk("vda", Path.of("/etc/passwd"), "raw")));
        assertThatThrownBy(() -> s.create(org.vmsnap.manager.xml.SnapshotXml.parse(bad),
                new CreateFlags(true, false, false, false, false)))
                .isInstanceOf(InvalidInputException.class)
                .hasMessageContaining("/etc/passwd is not one of the disk's images");
        assertThat(s.tree().all()).extracting(SnapshotDef::name).containsExactly("hidden");
    }

    @Test
    void aSecondProcessOnTheSameDomainWaitsThenFailsCleanly() throws Exception {
        var store = new org.vmsnap.manager.store.DomainStore(tmp.resolve("home"), "vm1");
        try (var held = store.lock()) {
            var other = java.util.concurrent.Executors.newSingleThreadExecutor();
            try {
                var f = other.submit(() -> org.vmsnap.manager.store.DomainLock.acquire(store.lockFile(), "vm1", 200));
                assertThatThrownBy(f::get).hasCauseInstanceOf(ManagerException.class)
                        .hasMessageContaining("domain vm1 is busy (another vmsnap is working on it)");
            } finally {
                other.shutdownNow();
            }
        }
        try (var again = store.lock()) {
            assertThat(again).isNotNull();
        }
    }

    void writeAt(String target, long offset, int length, byte value) throws IOException {
        Path file = domains.snapshots("vm1").domain().disk(target).orElseThrow().source();
        try (BlockDevice d = Images.open(file, OpenOptions.readWrite())) {
            byte[] b = new byte[length];
            java.util.Arrays.fill(b, value);
            d.write(offset, ByteBuffer.wrap(b));
            d.flush();
        }
    }

    @Test
    void deletingExternalSnapshotsMergesByCommitOrPullWhicheverMovesLess() throws IOException {
        SnapshotService s = domains.snapshots("vm1");
        CreateFlags diskOnly = new CreateFlags(false, false, false, true, false);
        write("vda", (byte) 1);
        s.create(request("e1"), diskOnly);            // a.qcow2 frozen, a.e1 on top
        writeAt("vda", 1 << 20, 64 << 10, (byte) 2);   // a little into a.e1
        s.create(request("e2"), diskOnly);            // a.e1 frozen, a.e2 on top
        writeAt("vda", 0, 3 << 20, (byte) 3);          // a lot into a.e2
        Path e1 = vda.resolveSibling("a.e1");
        Path e2 = vda.resolveSibling("a.e2");

        s.delete("e2", DeleteScope.SNAPSHOT, false);  // a.e1 has one dependent: pulling a.e1 into a.e2 moves less
        assertThat(e1).doesNotExist();
        assertThat(s.domain().disk("vda").orElseThrow().source()).isEqualTo(e2);
        try (Qcow2Image top = Qcow2Image.open(e2, OpenOptions.readOnlyOpen())) {
            assertThat(Path.of(top.backingFileName())).isEqualTo(vda);
        }
        assertThat(read("vda")).isEqualTo((byte) 3);

        s.revert("e1", false);                         // a new overlay over a.qcow2; a.e2 is no longer needed
        assertThat(e2).doesNotExist();
        assertThat(read("vda")).isEqualTo((byte) 1);
        writeAt("vda", 2 << 20, 64 << 10, (byte) 4);
        s.delete("e1", DeleteScope.SNAPSHOT, false);   // one dependent, a.qcow2 is the user's: commit into it
        assertThat(s.domain().disk("vda").orElseThrow().source()).isEqualTo(vda);
        assertThat(read("vda")).isEqualTo((byte) 1);
        try (BlockDevice d = Images.open(vda, OpenOptions.readOnlyOpen())) {
            ByteBuffer b = ByteBuffer.allocate(1);
            d.read(2 << 20, b);
            assertThat(b.get(0)).isEqualTo((byte) 4);
        }
        assertThat(s.tree().all()).isEmpty();
        try (var files = Files.list(vda.getParent())) {
            assertThat(files.filter(p -> !p.getFileName().toString().startsWith(".")).map(Path::getFileName)
                    .map(Path::toString).sorted().toList()).containsExactly("a.qcow2", "b.qcow2");
        }
    }

    @Test
    void deletingAnExternalSnapshotUnderTheCurrentImageCommitsIntoTheBase() throws IOException {
        SnapshotService s = domains.snapshots("vm1");
        CreateFlags diskOnly = new CreateFlags(false, false, false, true, false);
        write("vda", (byte) 1);
        s.create(request("e1"), diskOnly);
        write("vda", (byte) 2);
        s.create(request("e2"), diskOnly);
        write("vda", (byte) 3);
        s.delete("e1", DeleteScope.SNAPSHOT, false);   // a.qcow2 (the user's) gets a.e1's data; a.e2 is rebased
        assertThat(vda.resolveSibling("a.e1")).doesNotExist();
        assertThat(s.tree().get("e2").domain().disk("vda").orElseThrow().source()).isEqualTo(vda);
        assertThat(read("vda")).isEqualTo((byte) 3);
        s.revert("e2", false);
        assertThat(read("vda")).isEqualTo((byte) 2);
    }

    @Test
    void renamingAnInternalSnapshotRenamesItInsideTheImages() throws IOException {
        SnapshotService s = domains.snapshots("vm1");
        write("vda", (byte) 1);
        s.create(request("before"), CreateFlags.none());
        write("vda", (byte) 2);
        s.create(request("child"), CreateFlags.none());
        s.edit("before", s.tree().get("before").withName("renamed"));
        assertThat(s.tree().get("child").parent()).isEqualTo("renamed");
        try (Qcow2Image img = Qcow2Image.open(vda, OpenOptions.readOnlyOpen())) {
            assertThat(img.snapshots()).extracting(org.vmsnap.qcow2.SnapshotInfo::name)
                    .containsExactly("renamed", "child");
        }
        s.revert("renamed", false);
        assertThat(read("vda")).isEqualTo((byte) 1);
        assertThatThrownBy(() -> s.edit("renamed", s.tree().get("renamed").withName("child")))
                .isInstanceOf(InvalidInputException.class);
    }

    @Test
    void aCrashWhileFinishingAnInterruptedDeleteIsFinishedByTheNextCommand() throws IOException {
        for (int first = 1; first <= 3; first++) {
            for (int second = first; second <= first + 3; second++) {
                deleteTree(tmp);
                Files.createDirectories(tmp);
                setUp();
                SnapshotService s = domains.snapshots("vm1");
                CreateFlags diskOnly = new CreateFlags(false, false, false, true, false);
                write("vda", (byte) 1);
                s.create(request("e1"), diskOnly);
                write("vda", (byte) 2);
                s.create(request("e2"), diskOnly);
                write("vda", (byte) 3);
                String at = "crash at " + first + ", then at " + second + " while finishing";
                org.vmsnap.manager.plan.CrashPoint.arm(first);
                assertThatThrownBy(() -> s.delete("e1", DeleteScope.SNAPSHOT, false)) // commit a.e1 into a.qcow2
                        .as(at).isInstanceOf(org.vmsnap.manager.plan.CrashPoint.SimulatedCrash.class);
                org.vmsnap.manager.plan.CrashPoint.arm(second);
                assertThatThrownBy(() -> domains.snapshots("vm1").tree()) // finishing the delete, stopped again
                        .as(at).isInstanceOf(org.vmsnap.manager.plan.CrashPoint.SimulatedCrash.class);
                org.vmsnap.manager.plan.CrashPoint.arm(0);
                SnapshotService next = domains.snapshots("vm1");
                assertThat(next.tree().all()).as(at).extracting(SnapshotDef::name).containsExactly("e2");
                assertThat(read("vda")).as(at).isEqualTo((byte) 3);
                next.revert("e2", false);
                assertThat(read("vda")).as(at).isEqualTo((byte) 2);
                assertThat(vda.resolveSibling("a.e1")).as(at).doesNotExist();
            }
        }
    }

    static void deleteTree(Path dir) throws IOException {
        try (var files = Files.walk(dir)) {
            for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    @Test
    void unknownSnapshotIsOneLine() throws IOException {
        assertThatThrownBy(() -> domains.snapshots("vm1").revert("nope", false))
                .isInstanceOf(NotFoundException.class)
                .hasMessage("Domain snapshot not found: no domain snapshot with matching name 'nope'");
    }
}
