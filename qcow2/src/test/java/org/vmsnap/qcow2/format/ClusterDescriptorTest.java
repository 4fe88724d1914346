package org.vmsnap.qcow2.format;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** L1/L2 entry decoding, bit by bit as the qcow2 spec lays them out. */
class ClusterDescriptorTest {
    private final Geometry g64k = new Geometry(16, 4);

    @Test
    void unallocatedZeroNormal() {
        assertThat(ClusterDescriptor.decode(0, g64k, 3)).isEqualTo(ClusterDescriptor.UNALLOCATED);
        assertThat(ClusterDescriptor.decode(1, g64k, 3)).isEqualTo(new ClusterDescriptor.Zero(0, false));
        assertThat(ClusterDescriptor.decode(0x50000L | 1 | ClusterDescriptor.COPIED, g64k, 3))
                .isEqualTo(new ClusterDescriptor.Zero(0x50000, true));
        assertThat(ClusterDescriptor.decode(0x50000L | ClusterDescriptor.COPIED, g64k, 3))
                .isEqualTo(new ClusterDescriptor.Normal(0x50000, true));
        assertThat(ClusterDescriptor.decode(0x50000L, g64k, 3)).isEqualTo(new ClusterDescriptor.Normal(0x50000, false));
    }

    @Test
    void bitZeroIsIgnoredInVersion2() {
        assertThat(ClusterDescriptor.decode(0x50000L | 1, g64k, 2)).isEqualTo(new ClusterDescriptor.Normal(0x50000, false));
    }

    @Test
    void reservedBitsAndMisalignmentAreInvalid() {
        assertThat(ClusterDescriptor.decode(0x50000L | 0x2, g64k, 3)).isInstanceOf(ClusterDescriptor.Invalid.class);
        assertThat(ClusterDescriptor.decode(0x50000L | (1L << 57), g64k, 3)).isInstanceOf(ClusterDescriptor.Invalid.class);
        assertThat(ClusterDescriptor.decode(0x50200L, g64k, 3))
                .isInstanceOfSatisfying(ClusterDescriptor.Invalid.class, i -> assertThat(i.reason()).contains("aligned"));
        assertThat(ClusterDescriptor.decode(ClusterDescriptor.COPIED, g64k, 3)).isInstanceOf(ClusterDescriptor.Invalid.class);
    }

    @Test
    void compressedRoundTripsWithQemuSectorArithmetic() {
        // 64 KiB clusters: 54 offset bits; an entry qemu-img convert -c wrote at 0x50010, 3 extra sectors.
        long raw = ClusterDescriptor.COMPRESSED | (3L << 54) | 0x50010L;
        ClusterDescriptor d = ClusterDescriptor.decode(raw, g64k, 3);
        assertThat(d).isEqualTo(new ClusterDescriptor.Compressed(0x50010, 4 * 512 - 0x10));
        assertThat(ClusterDescriptor.encode(d, g64k)).isEqualTo(raw);
        ClusterDescriptor.Compressed c = ClusterDescriptor.compressed(0x50010, 1000);
        // 0x50010..0x503f7 touches two sectors: the size runs to the end of the second one.
        assertThat(c.hostOffset() + c.maxBytes()).isEqualTo(0x50000 + 2 * 512);
        assertThat(ClusterDescriptor.decode(ClusterDescriptor.encode(c, g64k), g64k, 3)).isEqualTo(c);
    }

    @Test
    void compressedWithCopiedIsInvalid() {
        long raw = ClusterDescriptor.COMPRESSED | ClusterDescriptor.COPIED | 0x50000L;
        assertThat(ClusterDescriptor.decode(raw, g64k, 3)).isInstanceOf(ClusterDescriptor.Invalid.class);
    }

    @Test
    void l1Entries() {
        assertThat(L1Entry.decode(0x70000L | L1Entry.COPIED, g64k)).isEqualTo(new L1Entry(0x70000, true));
        assertThat(L1Entry.decode(0x70000L | 1, g64k)).isNull();
        assertThat(L1Entry.problem(0x70000L | 1, g64k)).contains("reserved bits");
        assertThat(L1Entry.decode(0x70200L, g64k)).isNull();
        assertThat(L1Entry.problem(0x70200L, g64k)).contains("not cluster aligned");
        assertThat(new L1Entry(0x70000, true).encode()).isEqualTo(0x70000L | L1Entry.COPIED);
    }

    @Test
    void refcountEntriesOfEveryWidth() {
        for (int order = 0; order <= 6; order++) {
            byte[] block = new byte[512];
            long max = order == 6 ? Long.MAX_VALUE : (1L << (1 << order)) - 1;
            int entries = 512 * 8 >> order;
            for (int i = 0; i < entries; i += 7) {
                RefcountEntries.set(block, i, order, i % 3 == 0 ? max : 1);
            }
            for (int i = 0; i < entries; i++) {
                long want = i % 7 != 0 ? 0 : (i % 3 == 0 ? max : 1);
                assertThat(RefcountEntries.get(block, i, order)).as("order %d entry %d", order, i).isEqualTo(want);
            }
        }
        byte[] b = new byte[2];
        RefcountEntries.set(b, 0, 0, 1); // 1-bit: first entry is the low bit of byte 0, as QEMU packs it
        assertThat(b[0]).isEqualTo((byte) 1);
        RefcountEntries.set(b, 0, 4, 0x0102);
        assertThat(b).containsExactly(1, 2);
    }

    // ---- extended L2 entries: the entries below are ones qemu-io 7.2 wrote (64 KiB clusters,
    // 2 KiB subclusters): "write -P 0xaa 4k 2k; write -z 16k 6k" on an empty cluster gave
    // 8000000000050000 0000070000000004 ----------------------------------------------------

    private final Geometry ext64k = new Geometry(16, 4, true);

    @Test
    void extendedEntryOfQemuWritesSaysWhatEachSubclusterHolds() {
        ClusterDescriptor d = ClusterDescriptor.decodeExtended(0x8000000000050000L, 0x0000070000000004L, ext64k);
        ClusterDescriptor.Subclustered s = (ClusterDescriptor.Subclustered) d;
        assertThat(s.hostOffset()).isEqualTo(0x50000);
        assertThat(s.copied()).isTrue();
        assertThat(s.state(0)).isEqualTo(ClusterDescriptor.Subclustered.State.UNALLOCATED);
        assertThat(s.state(2)).isEqualTo(ClusterDescriptor.Subclustered.State.ALLOCATED);
        assertThat(s.state(8)).isEqualTo(ClusterDescriptor.Subclustered.State.ZERO);
        assertThat(s.state(10)).isEqualTo(ClusterDescriptor.Subclustered.State.ZERO);
        assertThat(s.state(11)).isEqualTo(ClusterDescriptor.Subclustered.State.UNALLOCATED);
        assertThat(s.sameStateFrom(0)).isEqualTo(2);
        assertThat(s.sameStateFrom(2)).isEqualTo(1);
        assertThat(s.sameStateFrom(3)).isEqualTo(5);
        assertThat(s.sameStateFrom(8)).isEqualTo(3);
        assertThat(s.sameStateFrom(9)).isEqualTo(2);
        assertThat(s.sameStateFrom(11)).isEqualTo(21);
        assertThat(s.sameStateFrom(31)).isEqualTo(1);
    }

    @Test
    void extendedEntriesWithoutAHostCluster() {
        assertThat(ClusterDescriptor.decodeExtended(0, 0, ext64k)).isEqualTo(ClusterDescriptor.UNALLOCATED);
        // "write -z 512k 64k" on an unallocated cluster: every subcluster reads as zeros.
        assertThat(ClusterDescriptor.decodeExtended(0, 0xffffffff00000000L, ext64k))
                .isEqualTo(new ClusterDescriptor.Subclustered(0, false, 0, -1));
        ClusterDescriptor.Subclustered all = new ClusterDescriptor.Subclustered(0x70000, true, -1, 0);
        assertThat(ClusterDescriptor.decodeExtended(0x8000000000070000L, 0xffffffffL, ext64k)).isEqualTo(all);
        assertThat(all.sameStateFrom(0)).isEqualTo(32);
        assertThat(all.sameStateFrom(5)).isEqualTo(27);
    }

    /** Bit 0 is the zero flag of standard entries only; QEMU ignores it with extended entries. */
    @Test
    void bitZeroMeansNothingInExtendedEntries() {
        assertThat(ClusterDescriptor.decodeExtended(0x50000L | 1, 0x1L, ext64k))
                .isEqualTo(new ClusterDescriptor.Subclustered(0x50000, false, 1, 0));
        assertThat(ClusterDescriptor.decodeExtended(1, 0, ext64k)).isEqualTo(ClusterDescriptor.UNALLOCATED);
    }

    @Test
    void compressedExtendedEntriesHaveNoBitmap() {
        long raw = 0x4000000000060000L;   // qemu-io "write -c" of a 64 KiB cluster of 0xcc
        assertThat(ClusterDescriptor.decodeExtended(raw, 0, ext64k)).isEqualTo(ClusterDescriptor.decode(raw, ext64k, 3));
        assertThat(ClusterDescriptor.decodeExtended(raw, 1, ext64k))
                .isInstanceOfSatisfying(ClusterDescriptor.Invalid.class,
                        i -> assertThat(i.reason()).contains("compressed cluster with a non-zero subcluster bitmap"));
    }

    /** The bitmap corruptions QEMU's check reports are invalid entries, not guesses. */
    @Test
    void badBitmapsAreInvalid() {
        assertThat(ClusterDescriptor.decodeExtended(0x50000L, 0x0000000400000004L, ext64k))
                .isInstanceOfSatisfying(ClusterDescriptor.Invalid.class,
                        i -> assertThat(i.reason()).contains("both allocated and reading as zeros"));
        assertThat(ClusterDescriptor.decodeExtended(0, 0xffffffff00000001L, ext64k))
                .isInstanceOfSatisfying(ClusterDescriptor.Invalid.class,
                        i -> assertThat(i.reason()).contains("unallocated cluster with allocated subclusters"));
        assertThat(ClusterDescriptor.decodeExtended(0x50200L, 0x4L, ext64k))
                .isInstanceOfSatisfying(ClusterDescriptor.Invalid.class, i -> assertThat(i.reason()).contains("aligned"));
        assertThat(ClusterDescriptor.decodeExtended(0x50000L | 0x2, 0x4L, ext64k)).isInstanceOf(ClusterDescriptor.Invalid.class);
        assertThat(ClusterDescriptor.decodeExtended(ClusterDescriptor.COPIED, 0, ext64k))
                .isInstanceOf(ClusterDescriptor.Invalid.class);
    }
}
