package org.vmsnap.qcow2.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.qcow2.CheckResult;
import org.vmsnap.qcow2.CorruptImageException;
import org.vmsnap.qcow2.NotQcow2Exception;
import org.vmsnap.qcow2.RepairMode;

/**
 * One hand-made image per finding: each test breaks one thing in a clean {@link TinyImage}
 * and checks the counts and the exact lines QEMU 7.2 prints for it (the integration tests
 * compare the same against qemu-img itself on QEMU-made images).
 */
class ImageCheckerTest {

    @TempDir
    Path dir;

    private TinyImage img;
    private long a;
    private long b;

    /** Two data clusters: guest 0 -> host 5, guest 1 -> host 6 (1 KiB clusters). */
    private TinyImage standard() {
        img = TinyImage.create();
        a = img.data(0, 0xaa);
        b = img.data(1, 0xbb);
        return img;
    }

    private CheckResult check(TinyImage image, RepairMode mode) throws IOException {
        Path p = image.writeTo(dir, "t.qcow2");
        try (FileStoreDouble s = mode == RepairMode.NONE ? FileStoreDouble.readOnly(p) : FileStoreDouble.readWrite(p)) {
            return ImageChecker.check(s, mode);
        }
    }

    private CheckResult recheck() throws IOException {
        try (FileStoreDouble s = FileStoreDouble.readOnly(dir.resolve("t.qcow2"))) {
            return ImageChecker.check(s, RepairMode.NONE);
        }
    }

    private static void assertClean(CheckResult r) {
        assertThat(r.corruptions()).as("corruptions").isZero();
        assertThat(r.leaks()).as("leaks").isZero();
        assertThat(r.checkErrors()).as("check errors").isZero();
        assertThat(r.exitCode()).isZero();
    }

    @Test
    void cleanImageHasNoFindingsAndQemuStatistics() throws IOException {
        CheckResult r = check(standard(), RepairMode.NONE);
        assertClean(r);
        assertThat(r.messages()).isEmpty();
        assertThat(r.totalClusters()).isEqualTo(64);
        assertThat(r.allocatedClusters()).isEqualTo(2);
        assertThat(r.fragmentedClusters()).isZero();
        assertThat(r.compressedClusters()).isZero();
        assertThat(r.imageEndOffsetBytes()).isEqualTo(7 * 1024);
    }

    @Test
    void fragmentedCountsClustersNotFollowingThePreviousOne() throws IOException {
        standard();
        long c = img.data(2, 0xcc);          // host 7, follows 6
        long d = img.newCluster(0);          // host 8: a free gap
        img.refcount(d, 0);
        long e = img.data(3, 0xdd);          // host 9: not after host 7
        CheckResult r = check(img, RepairMode.NONE);
        assertThat(r.allocatedClusters()).isEqualTo(4);
        assertThat(r.fragmentedClusters()).isEqualTo(1);
        assertThat(c).isEqualTo(7);
        assertThat(e).isEqualTo(9);
    }

    @Test
    void raisedRefcountIsALeakAndACopiedFlagError() throws IOException {
        standard().refcount(a, 2);
        CheckResult r = check(img, RepairMode.NONE);
        assertThat(r.leaks()).isEqualTo(1);
        assertThat(r.corruptions()).isEqualTo(1);
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.messages()).containsExactly(
                "Leaked cluster 5 refcount=2 reference=1",
                "ERROR OFLAG_COPIED data cluster: l2_entry=8000000000001400 refcount=2");
    }

    @Test
    void unreferencedClusterWithRefcountIsALeakThatLeaksRepairFixes() throws IOException {
        standard().newCluster(0x11); // cluster 7, refcount 1, referenced by nothing
        CheckResult r = check(img, RepairMode.NONE);
        assertThat(r.leaks()).isEqualTo(1);
        assertThat(r.corruptions()).isZero();
        assertThat(r.exitCode()).isEqualTo(3);
        assertThat(r.messages()).containsExactly("Leaked cluster 7 refcount=1 reference=0");
        assertThat(r.imageEndOffsetBytes()).isEqualTo(8 * 1024);

        CheckResult fixed = check(img, RepairMode.LEAKS);
        assertThat(fixed.leaksFixed()).isEqualTo(1);
        assertThat(fixed.corruptionsFixed()).isZero();
        assertClean(fixed);
        assertThat(fixed.messages()).containsExactly(
                "Leaked cluster 7 refcount=1 reference=0",
                "Repairing cluster 7 refcount=1 reference=0");
        // QEMU's image end offset is the last cluster with a refcount or a reference.
        assertThat(fixed.imageEndOffsetBytes()).isEqualTo(7 * 1024);
        assertClean(recheck());
    }

    @Test
    void refcountTooLowIsACorruptionThatOnlyAllRepairs() throws IOException {
        // A snapshot shares the L2 table and both data clusters: their refcounts are 2.
        standard();
        long snapL1 = img.newCluster(0);
        img.put64(img.at(snapL1), img.at(TinyImage.L2));
        img.l1(0, img.at(TinyImage.L2));
        img.l2(0, img.at(a));
        img.l2(1, img.at(b));
        img.refcount(TinyImage.L2, 2);
        img.refcount(a, 2);
        img.refcount(b, 2);
        img.snapshot("1", "snap", img.at(snapL1), 1);
        assertClean(check(img, RepairMode.NONE));

        img.refcount(b, 1);
        CheckResult r = check(img, RepairMode.NONE);
        assertThat(r.corruptions()).isEqualTo(2);
        assertThat(r.messages()).containsExactly(
                "ERROR cluster 6 refcount=1 reference=2",
                "ERROR OFLAG_COPIED data cluster: l2_entry=1800 refcount=1");

        CheckResult leaksOnly = check(img, RepairMode.LEAKS);
        assertThat(leaksOnly.corruptions()).isEqualTo(2);
        assertThat(leaksOnly.corruptionsFixed()).isZero();

        CheckResult all = check(img, RepairMode.ALL);
        assertThat(all.corruptionsFixed()).isEqualTo(1);
        assertClean(all);
        assertThat(all.messages()).containsExactly(
                "ERROR cluster 6 refcount=1 reference=2",
                "Repairing cluster 6 refcount=1 reference=2");
        assertClean(recheck());
    }

    @Test
    void zeroRefcountOfUsedClusterNeedsARebuild() throws IOException {
        standard().refcount(a, 0);
        CheckResult r = check(img, RepairMode.NONE);
        assertThat(r.corruptions()).isEqualTo(2);
        assertThat(r.messages()).containsExactly(
                "ERROR cluster 5 refcount=0 reference=1",
                "ERROR OFLAG_COPIED data cluster: l2_entry=8000000000001400 refcount=0");

        CheckResult leaks = check(img, RepairMode.LEAKS);
        assertThat(leaks.exitCode()).isEqualTo(1);
        assertThat(leaks.messages()).containsExactly(
                "ERROR cluster 5 refcount=0 reference=1",
                "ERROR need to rebuild refcount structures");

        CheckResult all = check(img, RepairMode.ALL);
        assertClean(all);
        assertThat(all.corruptionsFixed()).isEqualTo(1);
        assertThat(all.leaksFixed()).isZero();
        // New block at the first free cluster (7), new table after it (8); the old ones leak and are freed.
        assertThat(all.messages()).containsExactly(
                "ERROR cluster 5 refcount=0 reference=1",
                "Rebuilding refcount structure",
                "Repairing cluster 1 refcount=1 reference=0",
                "Repairing cluster 2 refcount=1 reference=0");
        assertThat(all.imageEndOffsetBytes()).isEqualTo(9 * 1024);
        assertClean(recheck());
        ByteBuffer hdr = ByteBuffer.allocate(12);
        try (FileStoreDouble s = FileStoreDouble.readOnly(dir.resolve("t.qcow2"))) {
            s.read(48, hdr);
        }
        assertThat(hdr.getLong(0)).isEqualTo(8 * 1024);
        assertThat(hdr.getInt(8)).isEqualTo(1);
    }

    @Test
    void clearedCopiedFlagIsACorruptionThatLeaksRepairFixesWhenRefcountsAreRight() throws IOException {
        standard().l2(1, img.at(b));
        CheckResult r = check(img, RepairMode.NONE);
        assertThat(r.corruptions()).isEqualTo(1);
        assertThat(r.messages()).containsExactly("ERROR OFLAG_COPIED data cluster: l2_entry=1800 refcount=1");
        CheckResult fixed = check(img, RepairMode.LEAKS);
        assertThat(fixed.corruptionsFixed()).isEqualTo(1);
        assertThat(fixed.messages()).containsExactly("Repairing OFLAG_COPIED data cluster: l2_entry=1800 refcount=1");
        assertClean(fixed);
        assertClean(recheck());
    }

    @Test
    void copiedFlagOnL1EntryOfSharedTableIsACorruption() throws IOException {
        standard().refcount(TinyImage.L2, 2);
        CheckResult r = check(img, RepairMode.NONE);
        assertThat(r.messages()).containsExactly(
                "Leaked cluster 4 refcount=2 reference=1",
                "ERROR OFLAG_COPIED L2 cluster: l1_index=0 l1_entry=8000000000001000 refcount=2");
        assertThat(r.leaks()).isEqualTo(1);
        assertThat(r.corruptions()).isEqualTo(1);
        CheckResult fixed = check(img, RepairMode.LEAKS);
        assertThat(fixed.leaksFixed()).isEqualTo(1);
        assertClean(fixed);
    }

    @Test
    void misalignedDataOffsetIsACorruption() throws IOException {
        standard().l2(1, (img.at(b) + 512) | TinyImage.COPIED);
        CheckResult r = check(img, RepairMode.NONE);
        assertThat(r.messages()).startsWith("ERROR offset=1a00: Data cluster is not properly aligned; L2 entry corrupted.");
        assertThat(r.corruptions()).isGreaterThanOrEqualTo(1);
    }

    @Test
    void misalignedPreallocatedZeroClusterIsRepairedToPlainZero() throws IOException {
        standard().l2(1, (img.at(b) + 512) | 1);
        CheckResult r = check(img, RepairMode.NONE);
        assertThat(r.messages()).contains(
                "ERROR offset=1a00: Preallocated cluster is not properly aligned; L2 entry corrupted.");
        CheckResult all = check(img, RepairMode.ALL);
        assertThat(all.messages()).contains(
                "Repairing offset=1a00: Preallocated cluster is not properly aligned; L2 entry corrupted.");
        assertClean(all);
        ByteBuffer entry = ByteBuffer.allocate(8);
        try (FileStoreDouble s = FileStoreDouble.readOnly(dir.resolve("t.qcow2"))) {
            s.read(img.at(TinyImage.L2) + 8, entry);
        }
        assertThat(entry.getLong(0)).isEqualTo(1L);
    }

    @Test
    void misalignedL2TableOffsetIsACorruption() throws IOException {
        standard().l1(0, (img.at(TinyImage.L2) + 512) | TinyImage.COPIED);
        CheckResult r = check(img, RepairMode.NONE);
        assertThat(r.messages()).contains("ERROR l2_offset=1200: Table is not cluster aligned; L1 entry corrupted");
        assertThat(r.exitCode()).isEqualTo(2);
    }

    @Test
    void referencePastTheEndOfTheFileIsNotCounted() throws IOException {
        standard().l2(2, (1L << 40) | TinyImage.COPIED);
        CheckResult r = check(img, RepairMode.NONE);
        assertThat(r.messages()).containsExactly(
                "ERROR: counting reference for region exceeding the end of the file by one cluster or more: offset"
                        + " 0x10000000000 size 0x400",
                "ERROR OFLAG_COPIED data cluster: l2_entry=8000010000000000 refcount=0");
        assertThat(r.corruptions()).isEqualTo(2);
        assertThat(r.imageEndOffsetBytes()).isEqualTo(7 * 1024);
    }

    @Test
    void reservedBitsInL1AndL2EntriesAreCorruptions() throws IOException {
        standard().l1(0, img.at(TinyImage.L2) | TinyImage.COPIED | 1);
        img.l2(1, img.at(b) | TinyImage.COPIED | 2);
        CheckResult r = check(img, RepairMode.NONE);
        assertThat(r.messages()).containsExactly(
                "ERROR found L1 entry with reserved bits set: 8000000000001001",
                "ERROR found l2 entry with reserved bits set: 8000000000001802");
        assertThat(r.corruptions()).isEqualTo(2);
    }

    @Test
    void compressedClustersCountAsAllocatedCompressedAndFragmented() throws IOException {
        standard();
        long host = img.newCluster(0x5a);
        // Two fragments in one host cluster: offset +0 (1 sector) and +512 (1 sector).
        int shift = 62 - (img.clusterBits - 8);
        img.l2(2, TinyImage.COMPRESSED | img.at(host));
        img.l2(3, TinyImage.COMPRESSED | (img.at(host) + 512));
        img.refcount(host, 2);
        CheckResult r = check(img, RepairMode.NONE);
        assertClean(r);
        assertThat(r.compressedClusters()).isEqualTo(2);
        assertThat(r.allocatedClusters()).isEqualTo(4);
        assertThat(r.fragmentedClusters()).isEqualTo(2);

        img.l2(3, TinyImage.COMPRESSED | TinyImage.COPIED | (img.at(host) + 512) | (0L << shift));
        CheckResult copied = check(img, RepairMode.NONE);
        assertThat(copied.messages()).containsExactly(
                "ERROR: coffset=0x1e00: copied flag must never be set for compressed clusters");
    }

    @Test
    void refcountOverflowIsReportedLikeQemu() throws IOException {
        img = TinyImage.create(10, 0, 3); // 1-bit refcounts
        long c = img.data(0, 0xaa);
        img.l2(1, img.at(c) | TinyImage.COPIED);
        CheckResult r = check(img, RepairMode.NONE);
        assertThat(r.messages()).containsExactly(
                "ERROR: overflow cluster offset=0x1400",
                "Use qemu-img amend to increase the refcount entry width or qemu-img convert to create a clean copy"
                        + " if the image cannot be opened for writing");
        assertThat(r.corruptions()).isEqualTo(1);
    }

    @Test
    void refcountTableEntryProblemsNeedARebuild() throws IOException {
        standard().put64(img.at(TinyImage.REFTABLE), img.at(TinyImage.REFBLOCK) | 1);
        CheckResult reserved = check(img, RepairMode.NONE);
        assertThat(reserved.messages()).containsExactly(
                "ERROR refcount table entry 0 has reserved bits set",
                "Leaked cluster 2 refcount=1 reference=0");
        CheckResult rebuilt = check(img, RepairMode.ALL);
        assertClean(rebuilt);
        assertClean(recheck());

        standard().put64(img.at(TinyImage.REFTABLE), img.at(TinyImage.REFBLOCK) + 512);
        CheckResult unaligned = check(img, RepairMode.NONE);
        assertThat(unaligned.messages()).startsWith(
                "ERROR refcount block 0 is not cluster aligned; refcount table entry corrupted",
                "qcow2: Image is corrupt: Refblock offset 0xa00 unaligned (reftable index: 0); further non-fatal"
                        + " corruption events will be suppressed",
                "Can't get refcount for cluster 0: Input/output error");
        assertThat(unaligned.checkErrors()).isEqualTo(7);
        assertThat(unaligned.exitCode()).isEqualTo(1);
        assertThat(unaligned.imageEndOffsetBytes()).isEqualTo(1024);
        CheckResult repaired = check(img, RepairMode.ALL);
        assertClean(repaired);
        assertClean(recheck());
    }

    @Test
    void refcountBlockOutsideTheFileIsMovedInsideByAllRepair() throws IOException {
        standard().put64(img.at(TinyImage.REFTABLE), img.at(32));
        CheckResult r = check(img, RepairMode.NONE);
        assertThat(r.messages()).startsWith("ERROR refcount block 0 is outside image",
                "ERROR cluster 0 refcount=0 reference=1");
        CheckResult all = check(img, RepairMode.ALL);
        assertThat(all.messages()).startsWith("Repairing refcount block 0 is outside image");
        assertClean(all);
        assertClean(recheck());
    }

    @Test
    void snapshotWithMisalignedL1IsReportedWithItsIdAndName() throws IOException {
        standard().snapshot("7", "before upgrade", img.at(3) + 512, 1);
        CheckResult r = check(img, RepairMode.NONE);
        assertThat(r.messages()).contains("ERROR snapshot 7 (before upgrade) l1_offset=0xe00: L1 table is not cluster"
                + " aligned; snapshot table entry corrupted");
    }

    @Test
    void anL2TableNamedManyTimesIsCountedOncePerName() throws IOException {
        standard();
        // 40 000 L1 entries all naming the one L2 table: QEMU walks it 40 000 times.
        int entries = 40_000;
        long l1Clusters = (entries * 8L + img.clusterSize - 1) / img.clusterSize;
        long first = img.newCluster(0);
        for (long i = 1; i < l1Clusters; i++) {
            img.newCluster(0);
        }
        for (int i = 0; i < entries; i++) {
            img.put64(img.at(first) + 8L * i, img.at(TinyImage.L2));
        }
        img.put64(40, img.at(first));
        img.put32(36, entries);
        img.put64(24, (long) entries * 128 * img.clusterSize);
        img.l2(0, img.at(a));
        img.l2(1, img.at(b));
        img.refcount(TinyImage.L1, 0);
        img.refcount(TinyImage.L2, entries);
        img.refcount(a, entries);
        img.refcount(b, entries);
        CheckResult r = check(img, RepairMode.NONE);
        assertClean(r);
        assertThat(r.allocatedClusters()).isEqualTo(2L * entries);
        assertThat(r.fragmentedClusters()).isZero();
    }

    @Test
    void notAnImageIsATypedError() throws IOException {
        Path p = dir.resolve("junk");
        Files.write(p, new byte[4096]);
        try (FileStoreDouble s = FileStoreDouble.readOnly(p)) {
            assertThatThrownBy(() -> ImageChecker.check(s, RepairMode.NONE)).isInstanceOf(NotQcow2Exception.class);
        }
    }

    @Test
    void repairNeedsAWritableStore() throws IOException {
        Path p = standard().writeTo(dir, "t.qcow2");
        try (FileStoreDouble s = FileStoreDouble.readOnly(p)) {
            assertThatThrownBy(() -> ImageChecker.check(s, RepairMode.ALL)).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void checkWithoutRepairNeverWrites() throws IOException {
        standard().refcount(a, 0);
        Path p = img.writeTo(dir, "t.qcow2");
        byte[] before = Files.readAllBytes(p);
        try (FileStoreDouble s = FileStoreDouble.readWrite(p)) {
            ImageChecker.check(s, RepairMode.NONE);
            assertThat(s.writes).isZero();
        }
        assertThat(Files.readAllBytes(p)).isEqualTo(before);
    }

    @Test
    void brokenBitmapDirectoryFailsTheCheck() throws IOException {
        standard();
        long dirCluster = img.newCluster(0);
        // Header extension: bitmaps, 1 bitmap, directory of 32 bytes at dirCluster; autoclear bit.
        ByteBuffer h = ByteBuffer.allocate(8 + 24).putInt(0x23852875).putInt(24).putInt(1).putInt(0)
                .putLong(32).putLong(img.at(dirCluster));
        Path p = img.writeTo(dir, "t.qcow2");
        byte[] bytes = Files.readAllBytes(p);
        // The directory cluster is all zeros: its one entry has table size 0, which QEMU refuses.
        ByteBuffer.wrap(bytes).put(104, h.array()).putLong(88, 1);
        Files.write(p, bytes);
        try (FileStoreDouble s = FileStoreDouble.readOnly(p)) {
            CheckResult r = ImageChecker.check(s, RepairMode.NONE);
            assertThat(r.exitCode()).isEqualTo(1);
            assertThat(r.corruptions()).isEqualTo(1);
            assertThat(r.messages()).contains("ERROR bitmaps: Bitmap '' doesn't satisfy the constraints");
        }
    }

    @Test
    void bitmapsExtensionWithBadFieldsIsCorrupt() throws IOException {
        Path p = standard().writeTo(dir, "t.qcow2");
        byte[] bytes = Files.readAllBytes(p);
        ByteBuffer.wrap(bytes).put(104, ByteBuffer.allocate(32).putInt(0x23852875).putInt(24).putInt(0).putInt(0)
                .putLong(0).putLong(0).array()).putLong(88, 1);
        Files.write(p, bytes);
        try (FileStoreDouble s = FileStoreDouble.readOnly(p)) {
            assertThatThrownBy(() -> ImageChecker.check(s, RepairMode.NONE))
                    .isInstanceOf(CorruptImageException.class)
                    .hasMessageContaining("found bitmaps extension with zero bitmaps");
        }
    }

    @Test
    void tablesNamedOverAndOverAreRefusedBeforeTheWalkRunsAway() throws IOException {
        // 2 MiB clusters, 80 L1 entries naming 80 different (misaligned) L2 tables inside a
        // 10 MiB file: 80 x 256 Ki entries, more than a walk of any valid image of this size reads.
        img = TinyImage.create(21, 4, 3);
        img.put32(36, 80);
        for (int i = 0; i < 80; i++) {
            img.l1(i, img.at(TinyImage.L2) + 512L * (i + 1));
        }
        Path p = img.writeTo(dir, "t.qcow2");
        try (FileStoreDouble s = FileStoreDouble.readOnly(p)) {
            assertThatThrownBy(() -> ImageChecker.check(s, RepairMode.NONE))
                    .isInstanceOf(CorruptImageException.class)
                    .hasMessageContaining("refusing");
        }
    }

    @Test
    void theRepairFlushesRefcountsBeforeTheCopiedFlagsThatTrustThem() throws IOException {
        standard().refcount(a, 2);
        img.l2(0, img.at(a));
        Path p = img.writeTo(dir, "t.qcow2");
        try (FileStoreDouble s = FileStoreDouble.readWrite(p)) {
            CheckResult r = ImageChecker.check(s, RepairMode.ALL);
            assertClean(r);
            assertThat(r.leaksFixed()).isEqualTo(1);
            assertThat(s.flushes).isGreaterThanOrEqualTo(2);
        }
        assertThat(recheck().messages()).isEmpty();
    }
}
