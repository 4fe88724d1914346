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
}
