package org.vmsnap.qcow2.io;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.api.Test;

/**
 * What every BlockStore must do, run against each implementation (subclasses supply the
 * store). Offsets are multiples of 64 KiB where holes matter: both the memory chunks and
 * ext4 blocks divide them, so hole answers are exact.
 */
abstract class BlockStoreContract {

    static final int KIB = 1024;
    static final int MIB = 1024 * KIB;

    /** A new, empty, writable store. */
    abstract BlockStore newStore() throws IOException;

    static byte[] pattern(int length, long seed) {
        byte[] data = new byte[length];
        new Random(seed).nextBytes(data);
        return data;
    }

    static void write(BlockStore store, long offset, byte[] data) throws IOException {
        store.write(offset, ByteBuffer.wrap(data));
    }

    /** Reads into a buffer pre-filled with 0xEE, so zeros in the result were really written. */
    static byte[] read(BlockStore store, long offset, int length) throws IOException {
        byte[] poisoned = new byte[length];
        Arrays.fill(poisoned, (byte) 0xEE);
        ByteBuffer dst = ByteBuffer.wrap(poisoned);
        store.read(offset, dst);
        assertThat(dst.remaining()).as("read fills the whole buffer").isZero();
        return poisoned;
    }

    @Test
    void writesReadBackAtTheirOffsets() throws IOException {
        try (BlockStore store = newStore()) {
            byte[] a = pattern(5000, 1);
            byte[] b = pattern(300, 2);
            write(store, 0, a);
            write(store, 4096, b); // overlaps the tail of a
            byte[] expected = Arrays.copyOf(a, 5000);
            System.arraycopy(b, 0, expected, 4096, 300);
            assertThat(read(store, 0, 5000)).isEqualTo(expected);
            assertThat(store.size()).isEqualTo(5000);
        }
    }

    @Test
    void readPastEndGivesZeros() throws IOException {
        try (BlockStore store = newStore()) {
            byte[] data = pattern(1000, 3);
            write(store, 0, data);

            byte[] straddling = read(store, 512, 4096);
            assertThat(Arrays.copyOfRange(straddling, 0, 488)).isEqualTo(Arrays.copyOfRange(data, 512, 1000));
            assertThat(Arrays.copyOfRange(straddling, 488, 4096)).containsOnly(0);
            assertThat(read(store, 10 * MIB, 512)).containsOnly(0);
            assertThat(store.size()).as("reads do not extend").isEqualTo(1000);
        }
    }

    @Test
    void writePastEndExtendsWithZeroGap() throws IOException {
        try (BlockStore store = newStore()) {
            write(store, 0, pattern(100, 4));
            write(store, 3 * MIB, pattern(100, 5));
            assertThat(store.size()).isEqualTo(3 * MIB + 100);
            assertThat(read(store, 100, 3 * MIB - 100)).containsOnly(0);
            assertThat(read(store, 3 * MIB, 100)).isEqualTo(pattern(100, 5));
        }
    }

    @Test
    void truncateCutsAndGrowsWithZeros() throws IOException {
        try (BlockStore store = newStore()) {
            write(store, 0, pattern(200 * KIB, 6));
            store.truncate(70 * KIB);
            assertThat(store.size()).isEqualTo(70 * KIB);
            store.truncate(2 * MIB);
            assertThat(store.size()).isEqualTo(2 * MIB);
            assertThat(read(store, 0, 70 * KIB)).isEqualTo(Arrays.copyOf(pattern(200 * KIB, 6), 70 * KIB));
            assertThat(read(store, 70 * KIB, 2 * MIB - 70 * KIB)).as("cut bytes do not come back").containsOnly(0);
        }
    }

    @Test
    void punchHoleReadsZerosAndKeepsSize() throws IOException {
        try (BlockStore store = newStore()) {
            byte[] data = pattern(1 * MIB, 7);
            write(store, 0, data);
            // Unaligned at both ends, spanning several 64 KiB chunks / file system blocks.
            long from = 100;
            long to = 3 * 64 * KIB + 100;
            assertThat(store.punchHole(from, to - from)).isTrue();
            assertThat(store.size()).isEqualTo(1 * MIB);
            assertThat(read(store, from, (int) (to - from))).containsOnly(0);
            assertThat(read(store, 0, 100)).isEqualTo(Arrays.copyOf(data, 100));
            assertThat(read(store, to, (int) (MIB - to))).isEqualTo(Arrays.copyOfRange(data, (int) to, MIB));
        }
    }

    @Test
    void nextDataAndNextHoleFollowTheSparseLayout() throws IOException {
        try (BlockStore store = newStore()) {
            long size = 4 * MIB;
            store.truncate(size);
            write(store, 1 * MIB, pattern(64 * KIB, 8));
            write(store, 3 * MIB, pattern(128 * KIB, 9));
            store.flush();

            assertThat(store.nextData(0)).isEqualTo(1 * MIB);
            assertThat(store.nextData(1 * MIB + 5)).isEqualTo(1 * MIB + 5);
            assertThat(store.nextHole(1 * MIB)).isEqualTo(1 * MIB + 64 * KIB);
            assertThat(store.nextData(1 * MIB + 64 * KIB)).isEqualTo(3 * MIB);
            assertThat(store.nextHole(3 * MIB)).isEqualTo(3 * MIB + 128 * KIB);
            assertThat(store.nextData(3 * MIB + 128 * KIB)).as("no data after the last extent").isEqualTo(-1);
            assertThat(store.nextHole(3 * MIB + 128 * KIB)).isEqualTo(3 * MIB + 128 * KIB);
            assertThat(store.nextHole(0)).isZero();
            assertThat(store.nextData(size)).isEqualTo(-1);
            assertThat(store.nextHole(size)).as("the end counts as a hole").isEqualTo(size);

            store.punchHole(1 * MIB, 64 * KIB);
            assertThat(store.nextData(0)).as("punched data is a hole again").isEqualTo(3 * MIB);
        }
    }

    @Test
    void nextHoleAtEndOfDenseStoreIsTheSize() throws IOException {
        try (BlockStore store = newStore()) {
            write(store, 0, pattern(100 * KIB, 10));
            assertThat(store.nextData(0)).isZero();
            assertThat(store.nextHole(0)).isEqualTo(100 * KIB);
        }
    }
}
