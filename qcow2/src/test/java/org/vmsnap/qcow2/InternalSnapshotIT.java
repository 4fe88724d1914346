package org.vmsnap.qcow2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.vmsnap.qcow2.engine.ImageChecker;
import org.vmsnap.qcow2.io.FileBlockStore;
import org.vmsnap.testkit.BadImages;
import org.vmsnap.testkit.QemuImg;
import org.vmsnap.testkit.QemuIo;
import org.vmsnap.testkit.ReferenceDisk;

/**
 * Internal snapshots against QEMU 7.2. (a) Snapshots vmsnap makes: qemu-img lists them with
 * the same fields, reads the same bytes, checks clean after every step, and applies and
 * deletes them. (b) Snapshots QEMU makes, with qemu-img between qemu-io writes and with a
 * paused qemu-system-x86_64 ({@code snapshot-save}, so they carry VM state): vmsnap lists and
 * reads them identically, applies and deletes them, and QEMU still loads the rest.
 */
class InternalSnapshotIT {
    private static final long SIZE = 24L << 20;

    @TempDir
    Path dir;

    static Stream<Arguments> geometries() {
        List<Arguments> out = new ArrayList<>();
        for (int cluster : new int[] {512, 65536, 2 << 20}) {
            for (int bits : new int[] {1, 16, 64}) {
                out.add(Arguments.of(cluster, bits));
            }
        }
        return out.stream();
    }

    // ---- (a) vmsnap's snapshots, judged by QEMU ---------------------------------------------

    @ParameterizedTest(name = "cluster {0}, refcount_bits {1}")
    @MethodSource("geometries")
    void vmsnapSnapshotsAreQemuSnapshots(int cluster, int bits) throws Exception {
        Path file = dir.resolve("v.qcow2");
        Qcow2CreateOptions o = Qcow2CreateOptions.ofSize(SIZE).withClusterSize(cluster).withRefcountBits(bits);
        ReferenceDisk model = ReferenceDisk.qcow2(SIZE, cluster, 3);
        Random r = new Random(cluster * 31L + bits);
        if (bits == 1) {
            oneBitLikeQemu(file, o, model, r);
            return;
        }
        try (Qcow2Image img = Qcow2Image.create(file, o)) {
            writeSome(img, model, r, 6);
            img.createSnapshot("first");
        }
        ReferenceDisk first = model.copy();
        qemuChecksClean(file);
        sameListAsQemu(file);
        ReferenceDisk second;
        try (Qcow2Image img = open(file)) {
            writeSome(img, model, r, 6);
            img.writeZeroes(3L << 20, 2L << 20);
            model.writeZeroes(3L << 20, 2L << 20);
            img.discard(10L << 20, 3L << 20);
            model.discard(10L << 20, 3L << 20);
            img.createSnapshot("second");
            second = model.copy();
            writeSome(img, model, r, 4);
        }
        qemuChecksClean(file);
        sameListAsQemu(file);
        qemuReadsLike(file, "first", first);
        qemuReadsLike(file, "second", second);
        qemuReadsActiveLike(file, model);

        try (Qcow2Image img = open(file)) {
            img.applySnapshot("first");
        }
        qemuChecksClean(file);
        qemuReadsActiveLike(file, first);
        sameListAsQemu(file);

        QemuImg.snapshotApply(file, "second");   // QEMU applies a vmsnap snapshot
        qemuChecksClean(file);
        QemuImg.snapshotCreate(file, "third");   // and adds its own on vmsnap's tables
        qemuChecksClean(file);
        sameListAsQemu(file);
        try (Qcow2Image img = open(file)) {
            assertThat(second.firstDifference(img::read)).isEqualTo(-1);
            try (BlockDevice third = img.readSnapshot("third")) {
                assertThat(second.firstDifference(third::read)).isEqualTo(-1);
            }
            img.deleteSnapshot("first");
        }
        qemuChecksClean(file);
        sameListAsQemu(file);
        QemuImg.snapshotDelete(file, "second");  // QEMU deletes a vmsnap snapshot
        qemuChecksClean(file);
        try (Qcow2Image img = open(file)) {
            writeSome(img, model, r, 3);
            img.applySnapshot("third");
            assertThat(second.firstDifference(img::read)).isEqualTo(-1);
            img.deleteSnapshot("third");
            assertThat(img.snapshots()).isEmpty();
        }
        qemuChecksClean(file);
        QemuIo.run(file, "qcow2", "write -P 0x77 0 1M");
        qemuChecksClean(file);
        assertThat(ImageChecker.check(FileBlockStore.open(file, true, false), RepairMode.NONE).corruptions()).isZero();
    }

    /**
     * refcount_bits=1: a cluster cannot be shared, so qemu-img 7.2 fails a snapshot of a disk
     * with any L2 table ("Invalid argument", leaking the L1 copy) and takes one of an empty
     * disk. vmsnap refuses the same snapshots (changing nothing) and takes the same ones.
     */
    private void oneBitLikeQemu(Path file, Qcow2CreateOptions o, ReferenceDisk model, Random r) throws Exception {
        try (Qcow2Image img = Qcow2Image.create(file, o)) {
            img.createSnapshot("empty");
            writeSome(img, model, r, 4);
        }
        qemuChecksClean(file);
        sameListAsQemu(file);
        Path copy = dir.resolve("qemu-copy.qcow2");
        Files.copy(file, copy);
        assertThat(QemuImg.runUnchecked(List.of("snapshot", "-c", "full", copy.toString())).exitCode())
                .as("qemu-img refuses too").isEqualTo(1);
        String before = BadImages.sha256(file);
        try (Qcow2Image img = open(file)) {
            assertThatThrownBy(() -> img.createSnapshot("full")).isInstanceOf(UnsupportedFeatureException.class)
                    .hasMessageContaining("refcount_bits=1");
        }
        assertThat(BadImages.sha256(file)).as("a refused snapshot changes nothing").isEqualTo(before);
        try (Qcow2Image img = open(file)) {
            img.applySnapshot("empty");
            assertThat(ReferenceDisk.qcow2(SIZE, 512, 3).firstDifference(img::read)).isEqualTo(-1);
        }
        qemuChecksClean(file);
        QemuImg.snapshotApply(file, "empty");
        QemuImg.snapshotCreate(file, "qemu-empty");
        qemuChecksClean(file);
        sameListAsQemu(file);
        try (Qcow2Image img = open(file)) {
            img.deleteSnapshot("empty");
            img.deleteSnapshot("qemu-empty");
        }
        qemuChecksClean(file);
    }

    @Test
    void renameKeepsIdDataAndTimesAndQemuUsesTheNewName() throws Exception {
        Path file = dir.resolve("rename.qcow2");
        QemuImg.create(file, "qcow2", SIZE);
        QemuImg.snapshotCreate(file, "a");
        QemuIo.run(file, "qcow2", "write -P 0x5a 0 64k");
        QemuImg.snapshotCreate(file, "b");
        JsonNode before = QemuImg.snapshotList(file);
        try (Qcow2Image img = open(file)) {
            img.renameSnapshot("a", "renamed");
            assertThatThrownBy(() -> img.renameSnapshot("renamed", "b")).isInstanceOf(SnapshotExistsException.class);
        }
        qemuChecksClean(file);
        sameListAsQemu(file);
        JsonNode after = QemuImg.snapshotList(file);
        assertThat(after.get(0).get("name").asText()).isEqualTo("renamed");
        for (String field : List.of("id", "date-sec", "date-nsec", "vm-state-size")) {
            assertThat(after.get(0).get(field)).isEqualTo(before.get(0).get(field));
        }
        assertThat(after.get(1)).isEqualTo(before.get(1));
        QemuImg.snapshotApply(file, "renamed");     // QEMU finds it by its new name: the zeros before the write
        try (Qcow2Image img = open(file)) {
            ByteBuffer b = ByteBuffer.allocate(1);
            img.read(0, b);
            assertThat(b.get(0)).isZero();
        }
        qemuChecksClean(file);
    }

    @Test
    void deleteGivesSpaceBackToTheFileSystem() throws Exception {
        Path file = dir.resolve("du.qcow2");
        byte[] a = new byte[8 << 20];
        Arrays.fill(a, (byte) 0x11);
        byte[] b = new byte[8 << 20];
        Arrays.fill(b, (byte) 0x22);
        try (Qcow2Image img = Qcow2Image.create(file, Qcow2CreateOptions.ofSize(SIZE))) {
            img.write(0, ByteBuffer.wrap(a));
            img.createSnapshot("old");
            img.write(0, ByteBuffer.wrap(b));   // the snapshot alone keeps the 0x11 clusters
            img.flush();
            long before = img.allocatedFileBytes();
            img.deleteSnapshot("old");
            long after = img.allocatedFileBytes();
            assertThat(before - after).as("bytes given back (before %d, after %d)", before, after)
                    .isGreaterThanOrEqualTo(8L << 20);
        }
        qemuChecksClean(file);
    }

    // ---- (b) QEMU's snapshots, read and changed by vmsnap -----------------------------------

    @Test
    void qemuImgSnapshotsBetweenQemuIoWrites() throws Exception {
        Path file = dir.resolve("q.qcow2");
        QemuImg.create(file, "qcow2", SIZE);
        QemuIo.run(file, "qcow2", "write -P 0x11 0 3M", "write -c -P 0x12 4M 64k", "write -z 5M 1M");
        QemuImg.snapshotCreate(file, "a");
        // write -z over allocated, shared clusters keeps them allocated (zero clusters with an offset).
        QemuIo.run(file, "qcow2", "write -P 0x21 1M 3M", "discard 0 64k", "write -P 0x22 20M 65k",
                "write -z 64k 128k");
        QemuImg.snapshotCreate(file, "b");
        QemuIo.run(file, "qcow2", "write -P 0x31 2M 5M");
        QemuImg.resize(file, "qcow2", SIZE + (8L << 20));
        QemuIo.run(file, "qcow2", "write -P 0x32 " + (SIZE + 4096) + " 1M");
        QemuImg.snapshotCreate(file, "c");
        sameListAsQemu(file);
        Path rawA = qemuExtract(file, "a");
        Path rawB = qemuExtract(file, "b");
        Path rawC = qemuExtract(file, "c");
        try (Qcow2Image img = Qcow2Image.open(file, OpenOptions.readOnlyOpen())) {
            // qemu-img 7.2 extracts a snapshot at the current disk size (zeros past the
            // snapshot's own size here); vmsnap's view has the snapshot's size.
            assertThat(img.readSnapshot("a").size()).isEqualTo(SIZE);
            sameBytesThenZeros(img.readSnapshot("a"), rawA);
            sameBytesThenZeros(img.readSnapshot("1"), rawA);     // by id
            sameBytesThenZeros(img.readSnapshot("b"), rawB);
            sameBytes(img.readSnapshot("c"), rawC);
        }
        rawA = truncated(rawA, SIZE);
        rawB = truncated(rawB, SIZE);
        try (Qcow2Image img = open(file)) {
            img.applySnapshot("a");                     // smaller disk: the size comes back too
            assertThat(img.size()).isEqualTo(SIZE);
            sameBytes(img, rawA);
        }
        qemuChecksClean(file);
        try (Qcow2Image img = open(file)) {
            img.deleteSnapshot("b");
            sameBytes(img.readSnapshot("c"), rawC);
        }
        qemuChecksClean(file);
        QemuImg.snapshotApply(file, "c");
        QemuImg.assertSameContent(file, "qcow2", rawC, "raw");
        QemuImg.snapshotDelete(file, "a");
        qemuChecksClean(file);
        sameListAsQemu(file);
    }

    @Test
    void vmStateSnapshotsFromARunningQemu() throws Exception {
        Path file = dir.resolve("vm.qcow2");
        QemuImg.create(file, "qcow2", 64L << 20);
        QemuIo.run(file, "qcow2", "write -P 0x41 0 2M");
        saveVm(file, "vm1");
        QemuIo.run(file, "qcow2", "write -P 0x42 1M 2M", "write -P 0x43 40M 64k");
        saveVm(file, "vm2");
        QemuIo.run(file, "qcow2", "write -P 0x44 0 512k");
        saveVm(file, "vm3");
        QemuIo.run(file, "qcow2", "write -P 0x45 100k 4M");
        qemuChecksClean(file);
        sameListAsQemu(file);
        JsonNode listed = QemuImg.snapshotList(file);
        for (JsonNode s : listed) {
            assertThat(s.get("vm-state-size").asLong()).as("VM state of %s", s.get("name")).isPositive();
        }
        Path raw1 = qemuExtract(file, "vm1");
        Path raw2 = qemuExtract(file, "vm2");
        Path raw3 = qemuExtract(file, "vm3");
        try (Qcow2Image img = Qcow2Image.open(file, OpenOptions.readOnlyOpen())) {
            sameBytes(img.readSnapshot("vm1"), raw1);
            sameBytes(img.readSnapshot("vm2"), raw2);
            sameBytes(img.readSnapshot("vm3"), raw3);
        }
        try (Qcow2Image img = open(file)) {
            img.applySnapshot("vm2");
            sameBytes(img, raw2);
        }
        qemuChecksClean(file);
        sameListAsQemu(file);
        long before = Files.size(file);
        try (Qcow2Image img = open(file)) {
            img.deleteSnapshot("vm1");              // its VM state goes with it
            img.createSnapshot("disk-only");
        }
        qemuChecksClean(file);
        sameListAsQemu(file);
        assertThat(Files.size(file)).isGreaterThan(0).isLessThan(before + (8L << 20));
        try (PausedQemu q = PausedQemu.start(file, dir)) {
            assertThat(q.snapshotJob("snapshot-load", "vm3")).as("QEMU loads vm3").isNull();
            assertThat(q.snapshotJob("snapshot-load", "vm2")).as("QEMU loads vm2").isNull();
        }
        qemuChecksClean(file);
        QemuImg.assertSameContent(file, "qcow2", raw2, "raw");
        try (Qcow2Image img = open(file)) {
            img.deleteSnapshot("vm3");
            img.applySnapshot("disk-only");
        }
        qemuChecksClean(file);
        try (PausedQemu q = PausedQemu.start(file, dir)) {
            assertThat(q.snapshotJob("snapshot-load", "vm2")).as("QEMU still loads vm2").isNull();
            assertThat(q.snapshotJob("snapshot-load", "vm1")).as("vm1 is gone").contains("vm1");
        }
        qemuChecksClean(file);
        sameListAsQemu(file);
    }

    private void saveVm(Path file, String tag) throws Exception {
        try (PausedQemu q = PausedQemu.start(file, dir)) {
            assertThat(q.snapshotJob("snapshot-save", tag)).as("snapshot-save %s", tag).isNull();
        }
    }

    // ---- helpers ------------------------------------------------------------------------------

    private static Qcow2Image open(Path file) throws IOException {
        return Qcow2Image.open(file, OpenOptions.readWrite());
    }

    /** Random writes of up to three clusters' worth (at least 64 KiB) at random places. */
    private static void writeSome(Qcow2Image img, ReferenceDisk model, Random r, int count) throws IOException {
        for (int i = 0; i < count; i++) {
            long off = r.nextLong(img.size() - 1);
            int len = (int) Math.min(img.size() - off, 1 + r.nextInt(Math.max(3 * img.clusterSize(), 65536)));
            byte[] d = new byte[len];
            r.nextBytes(d);
            img.write(off, ByteBuffer.wrap(d));
            model.write(off, d);
        }
    }

    private static void qemuChecksClean(Path file) {
        QemuImg.CheckOutcome c = QemuImg.check(file);
        assertThat(c.exitCode()).as("qemu-img check %s: %s %s", file, c.json(), c.stderr()).isZero();
    }

    /** qemu-img info's snapshot list and vmsnap's agree field by field. */
    private static void sameListAsQemu(Path file) throws IOException {
        JsonNode qemu = QemuImg.snapshotList(file);
        List<SnapshotInfo> ours;
        try (Qcow2Image img = Qcow2Image.open(file, OpenOptions.readOnlyOpen())) {
            ours = img.snapshots();
        }
        assertThat(ours).hasSize(qemu.size());
        for (int i = 0; i < ours.size(); i++) {
            SnapshotInfo s = ours.get(i);
            JsonNode q = qemu.get(i);
            assertThat(s.id()).isEqualTo(q.get("id").asText());
            assertThat(s.name()).isEqualTo(q.get("name").asText());
            assertThat(s.vmStateSize()).isEqualTo(q.get("vm-state-size").asLong());
            assertThat(s.dateSec()).isEqualTo(q.get("date-sec").asLong());
            assertThat((long) s.dateNsec()).isEqualTo(q.get("date-nsec").asLong());
            assertThat(s.vmClockNsec()).isEqualTo(q.get("vm-clock-sec").asLong() * 1_000_000_000L
                    + q.get("vm-clock-nsec").asLong());
            if (q.has("icount")) {
                assertThat(s.icount()).isEqualTo(q.get("icount").asLong());
            } else {
                assertThat(s.icount()).isEqualTo(-1);
            }
        }
    }

    private Path qemuExtract(Path file, String name) {
        Path out = dir.resolve(name + "-" + System.nanoTime() + ".raw");
        QemuImg.convert(file, "qcow2", out, "raw", "-l", "snapshot.name=" + name);
        return out;
    }

    private void qemuReadsLike(Path file, String name, ReferenceDisk expected) throws IOException {
        Path raw = dir.resolve("expected-" + System.nanoTime() + ".raw");
        expected.writeRawFile(raw);
        QemuImg.assertSameContent(qemuExtract(file, name), "raw", raw, "raw");
    }

    private void qemuReadsActiveLike(Path file, ReferenceDisk expected) throws IOException {
        Path raw = dir.resolve("expected-" + System.nanoTime() + ".raw");
        expected.writeRawFile(raw);
        QemuImg.assertSameContent(file, "qcow2", raw, "raw");
    }

    /** The device reads exactly the raw file's bytes (and has its size); closes the device. */
    private static void sameBytes(BlockDevice device, Path raw) throws IOException {
        try (device; FileChannel ch = FileChannel.open(raw, StandardOpenOption.READ)) {
            sameBytesOpen(device, ch);
        }
    }

    private static void sameBytes(Qcow2Image img, Path raw) throws IOException {
        try (FileChannel ch = FileChannel.open(raw, StandardOpenOption.READ)) {
            sameBytesOpen(img, ch);
        }
    }

    /** The device reads the raw file's first bytes, and the raw file has only zeros after them. */
    private static void sameBytesThenZeros(BlockDevice device, Path raw) throws IOException {
        try (device; FileChannel ch = FileChannel.open(raw, StandardOpenOption.READ)) {
            assertThat(ch.size()).isGreaterThanOrEqualTo(device.size());
            compare(device, ch, device.size());
            ByteBuffer tail = ByteBuffer.allocate((int) (ch.size() - device.size()));
            ch.read(tail, device.size());
            assertThat(tail.array()).containsOnly(0);
        }
    }

    private Path truncated(Path raw, long size) throws IOException {
        Path out = dir.resolve("cut-" + System.nanoTime() + ".raw");
        Files.copy(raw, out);
        try (FileChannel ch = FileChannel.open(out, StandardOpenOption.WRITE)) {
            ch.truncate(size);
        }
        return out;
    }

    private static void sameBytesOpen(BlockDevice device, FileChannel ch) throws IOException {
        assertThat(device.size()).isEqualTo(ch.size());
        compare(device, ch, ch.size());
    }

    private static void compare(BlockDevice device, FileChannel ch, long size) throws IOException {
        ByteBuffer a = ByteBuffer.allocate(1 << 20);
        ByteBuffer b = ByteBuffer.allocate(1 << 20);
        for (long at = 0; at < size; at += a.capacity()) {
            int n = (int) Math.min(a.capacity(), size - at);
            a.clear().limit(n);
            b.clear().limit(n);
            device.read(at, a);
            while (b.hasRemaining() && ch.read(b, at + b.position()) > 0) {
                // positional reads until full
            }
            assertThat(a.flip()).as("bytes at %d", at).isEqualTo(b.flip());
        }
    }
}
