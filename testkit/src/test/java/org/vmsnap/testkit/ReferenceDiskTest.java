package org.vmsnap.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReferenceDiskTest {

    private static final int K64 = 64 * 1024;

    private static byte[] filled(int length, int value) {
        byte[] b = new byte[length];
        Arrays.fill(b, (byte) value);
        return b;
    }

    @Test
    void readsWhatWasWrittenAndZerosElsewhere() {
        ReferenceDisk d = ReferenceDisk.qcow2(1 << 20, K64, 3);
        d.write(K64 - 3, new byte[] {1, 2, 3, 4, 5, 6});
        assertThat(d.read(K64 - 4, 8)).containsExactly(0, 1, 2, 3, 4, 5, 6, 0);
        assertThat(d.read(0, 100)).containsOnly(0);
    }

    @Test
    void isSparseForHugeDisks() {
        long size = 1L << 40;
        ReferenceDisk d = ReferenceDisk.qcow2(size, K64, 3);
        d.writePattern(size - 10, 10, 0xee);
        d.writePattern(123, 2, 0x01);
        assertThat(d.storedChunkCount()).isEqualTo(2);
        assertThat(d.read(size - 11, 11)).startsWith(0).endsWith(0xee, 0xee);
        d.writeZeroes(0, size);
        assertThat(d.storedChunkCount()).isZero();
        assertThat(d.read(size - 11, 11)).containsOnly(0);
    }

    @Test
    void refusesRangesOutsideTheDisk() {
        ReferenceDisk d = ReferenceDisk.qcow2(4096, 512, 3);
        assertThatThrownBy(() -> d.write(4095, new byte[2])).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> d.read(-1, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> d.discard(0, 4097)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void writeZeroesIsExact() {
        ReferenceDisk d = ReferenceDisk.qcow2(1 << 20, K64, 3);
        d.writePattern(0, 1 << 20, 0xaa);
        d.writeZeroes(100, 200);
        assertThat(d.read(99, 1)).containsExactly(0xaa);
        assertThat(d.read(100, 200)).containsOnly(0);
        assertThat(d.read(300, 1)).containsExactly(0xaa);
    }

    @Test
    void discardOnV3ZeroesWholeClustersOnlyEvenOverABacking() {
        ReferenceDisk base = ReferenceDisk.raw(1 << 20);
        base.writePattern(0, 1 << 20, 0xaa);
        ReferenceDisk top = ReferenceDisk.overlay(base, K64, 3);
        top.writePattern(0, 4 * K64, 0xbb);
        top.discard(K64 / 2, 2 * K64); // covers only cluster 1 fully
        assertThat(top.read(0, K64)).containsOnly(0xbb);
        assertThat(top.read(K64, K64)).containsOnly(0);
        assertThat(top.read(2 * K64, K64)).containsOnly(0xbb);
        top.discard(8 * K64, K64); // never written: reads zeros, not the backing
        assertThat(top.read(8 * K64, K64)).containsOnly(0);
    }

    @Test
    void discardOnV2WithABackingChangesNothing() {
        ReferenceDisk base = ReferenceDisk.raw(1 << 20);
        base.writePattern(0, 1 << 20, 0xaa);
        ReferenceDisk top = ReferenceDisk.overlay(base, K64, 2);
        top.writePattern(0, K64, 0xbb);
        top.discard(0, 1 << 20);
        assertThat(top.read(0, K64)).containsOnly(0xbb);
        assertThat(top.read(K64, K64)).containsOnly(0xaa);
    }

    @Test
    void discardOnV2WithoutBackingZeroesWholeClusters() {
        ReferenceDisk d = ReferenceDisk.qcow2(1 << 20, K64, 2);
        d.writePattern(0, 1 << 20, 0xbb);
        d.discard(0, K64 + 1);
        assertThat(d.read(0, K64)).containsOnly(0);
        assertThat(d.read(K64, 1)).containsExactly(0xbb);
    }

    @Test
    void discardReachingAnUnalignedEndTakesThePartialLastCluster() {
        long size = 15 * K64 + 40 * 1024;
        ReferenceDisk d = ReferenceDisk.qcow2(size, K64, 3);
        d.writePattern(0, size, 0xbb);
        d.discard(15 * K64, 40 * 1024);
        assertThat(d.read(15 * K64, 40 * 1024)).containsOnly(0);
        d.writePattern(0, size, 0xbb);
        d.discard(15 * K64 + 512, 40 * 1024 - 512); // does not start at the cluster start
        assertThat(d.read(15 * K64, 40 * 1024)).containsOnly(0xbb);
    }

    @Test
    void discardOnRawIsExact() {
        ReferenceDisk d = ReferenceDisk.raw(1 << 20);
        d.writePattern(0, 1 << 20, 0xbb);
        d.discard(1000, 3000);
        assertThat(d.read(999, 1)).containsExactly(0xbb);
        assertThat(d.read(1000, 3000)).containsOnly(0);
        assertThat(d.read(4000, 1)).containsExactly(0xbb);
    }

    @Test
    void deallocateFallsThroughToTheBackingExactly() {
        ReferenceDisk base = ReferenceDisk.raw(1 << 20);
        base.writePattern(0, 1 << 20, 0xaa);
        ReferenceDisk top = ReferenceDisk.overlay(base, K64, 3);
        top.writePattern(0, 1 << 20, 0xbb);
        top.deallocate(100, 2 * K64);
        assertThat(top.read(99, 1)).containsExactly(0xbb);
        assertThat(top.read(100, 2 * K64)).containsOnly(0xaa);
        assertThat(top.read(100 + 2 * K64, 1)).containsExactly(0xbb);
    }

    @Test
    void overlayCopiesOnWriteAndReadsZerosPastASmallerBacking() {
        ReferenceDisk base = ReferenceDisk.raw(100_000);
        base.writePattern(0, 100_000, 0xaa);
        ReferenceDisk top = ReferenceDisk.overlay(base, K64, 3);
        top.resize(300_000);
        top.write(10, new byte[] {7});
        assertThat(top.read(9, 3)).containsExactly(0xaa, 7, 0xaa);
        assertThat(top.read(99_999, 2)).containsExactly(0xaa, 0);
        assertThat(base.read(10, 1)).containsExactly(0xaa);
    }

    @Test
    void growingHidesBackingDataAndShrinkingForgets() {
        ReferenceDisk base = ReferenceDisk.raw(1 << 20);
        base.writePattern(0, 1 << 20, 0xaa);
        ReferenceDisk top = ReferenceDisk.overlay(base, K64, 3);
        top.resize(200_000);
        top.resize(1 << 20);
        assertThat(top.read(0, 200_000)).containsOnly(0xaa);
        assertThat(top.read(200_000, (1 << 20) - 200_000)).containsOnly(0);

        ReferenceDisk d = ReferenceDisk.qcow2(1 << 20, K64, 3);
        d.writePattern(0, 1 << 20, 0x11);
        d.resize(1000);
        assertThat(d.size()).isEqualTo(1000);
        d.resize(1 << 20);
        assertThat(d.read(0, 1000)).containsOnly(0x11);
        assertThat(d.read(1000, (1 << 20) - 1000)).containsOnly(0);
    }

    @Test
    void copyIsIndependent() {
        ReferenceDisk d = ReferenceDisk.qcow2(1 << 20, K64, 3);
        d.writePattern(0, 10, 1);
        ReferenceDisk snap = d.copy();
        d.writePattern(0, 10, 2);
        assertThat(snap.read(0, 10)).containsOnly(1);
        assertThat(d.read(0, 10)).containsOnly(2);
    }

    @Test
    void flattenedMergesTheBacking() throws IOException {
        ReferenceDisk base = ReferenceDisk.raw(1 << 20);
        base.writePattern(0, 1 << 20, 0xaa);
        ReferenceDisk top = ReferenceDisk.overlay(base, K64, 3);
        top.writeZeroes(0, K64);
        ReferenceDisk flat = top.flattened();
        assertThat(flat.backing()).isNull();
        assertThat(flat.firstDifference(top::read)).isEqualTo(-1);
    }

    @Test
    void firstDifferenceFindsTheFirstDifferingByte() throws IOException {
        ReferenceDisk a = ReferenceDisk.qcow2(5L << 20, K64, 3);
        ReferenceDisk b = a.copy();
        assertThat(a.firstDifference(b::read)).isEqualTo(-1);
        b.write((3L << 20) + 17, new byte[] {1});
        b.write((4L << 20) + 1, new byte[] {1});
        assertThat(a.firstDifference(b::read)).isEqualTo((3L << 20) + 17);
    }

    @Test
    void firstDifferenceDoesNotTrustAReaderThatFillsNothing() throws IOException {
        ReferenceDisk zeros = ReferenceDisk.qcow2(1 << 20, K64, 3);
        ReferenceDisk.Reader lazy = (offset, dst) -> dst.position(dst.limit());
        assertThat(zeros.firstDifference(lazy)).isZero();
    }

    @Test
    void writeRawFileIsSparseAndExact(@TempDir Path dir) throws IOException {
        long size = (64L << 20) + 512;
        ReferenceDisk d = ReferenceDisk.qcow2(size, K64, 3);
        d.writePattern(1 << 20, 4096, 0x5c);
        d.writePattern(size - 1, 1, 0x5d);
        Path raw = dir.resolve("model.raw");
        Files.write(raw, filled(1 << 20, 0x77)); // replaced, not merged
        d.writeRawFile(raw);
        assertThat(Files.size(raw)).isEqualTo(size);
        // qemu-img's actual-size is st_blocks * 512: the bytes really allocated.
        assertThat(QemuImg.infoJson(raw, "raw").get("actual-size").asLong()).isLessThan(1L << 20);
        byte[] bytes = Files.readAllBytes(raw);
        assertThat(d.firstDifference((offset, dst) -> dst.put(bytes, (int) offset, dst.remaining()))).isEqualTo(-1);
    }

    @Test
    void writeLeavesTheSourceBufferPosition() {
        ReferenceDisk d = ReferenceDisk.qcow2(1 << 20, K64, 3);
        ByteBuffer src = ByteBuffer.wrap(new byte[] {1, 2, 3});
        d.write(0, src);
        assertThat(src.position()).isZero();
    }
}
