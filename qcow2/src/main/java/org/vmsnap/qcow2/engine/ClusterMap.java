package org.vmsnap.qcow2.engine;

import java.io.IOException;
import org.vmsnap.qcow2.CorruptImageException;
import org.vmsnap.qcow2.format.ClusterDescriptor;
import org.vmsnap.qcow2.format.Geometry;
import org.vmsnap.qcow2.format.L1Entry;

/**
 * Guest offset to cluster descriptor, through the active L1 table and the L2 cache; and
 * the L2 tables a write needs (allocated, or copied when shared with a snapshot).
 */
final class ClusterMap {

    /**
     * A run of guest bytes with one kind of descriptor: {@code first} describes its first
     * cluster; for Normal and allocated Zero runs the host clusters are contiguous.
     *
     * @param hostOffset host byte of the run's first guest byte (Normal/allocated Zero), else -1
     */
    record Run(ClusterDescriptor first, long hostOffset, long lengthBytes) {
    }

    /** An L2 table writable in place: its host offset and entries (cached). */
    record WritableL2(long offset, long[] entries) {
    }

    private final Qcow2Engine e;
    private final Geometry g;

    ClusterMap(Qcow2Engine engine) {
        this.e = engine;
        this.g = engine.geometry();
    }

    /** The L2 table covering {@code guestOffset}, or null when its L1 entry is empty. */
    long[] l2ForRead(long guestOffset) throws IOException {
        L1Entry l1 = e.l1().get(g.l1Index(guestOffset));
        return l1.isAllocated() ? e.l2Cache().get(l1.l2Offset()) : null;
    }

    ClusterDescriptor decode(long[] l2, long guestOffset) throws CorruptImageException {
        int idx = g.l2Index(guestOffset);
        ClusterDescriptor d = ClusterDescriptor.decode(l2[idx], g, e.header().version());
        if (d instanceof ClusterDescriptor.Invalid inv) {
            long l2Offset = e.l1().get(g.l1Index(guestOffset)).l2Offset();
            throw new CorruptImageException(e.file(), "L2 table", l2Offset + 8L * idx, inv.reason()
                    + " (entry 0x" + Long.toHexString(inv.raw()) + ")");
        }
        return d;
    }

    /** The longest run from {@code guestOffset} (at most {@code maxLength} bytes) within one L2 table. */
    Run run(long guestOffset, long maxLength) throws IOException {
        long coverage = 1L << g.l2CoverageBits();
        long tableEnd = (guestOffset & ~(coverage - 1)) + coverage;
        long limit = Math.min(guestOffset + maxLength, tableEnd);
        long[] l2 = l2ForRead(guestOffset);
        if (l2 == null) {
            return new Run(ClusterDescriptor.UNALLOCATED, -1, limit - guestOffset);
        }
        ClusterDescriptor first = decode(l2, guestOffset);
        long firstHost = hostOf(first);
        long pos = g.clusterStart(guestOffset) + g.clusterSize();
        while (pos < limit && !(first instanceof ClusterDescriptor.Compressed)) {
            ClusterDescriptor next = decode(l2, pos);
            if (next.getClass() != first.getClass()) {
                break;
            }
            long host = hostOf(next);
            if ((firstHost == 0) != (host == 0)) {
                break;
            }
            if (host != 0 && host != firstHost + (pos - g.clusterStart(guestOffset))) {
                break;
            }
            pos += g.clusterSize();
        }
        long end = Math.min(pos, limit);
        long hostByte = firstHost == 0 ? -1 : firstHost + g.offsetInCluster(guestOffset);
        return new Run(first, hostByte, end - guestOffset);
    }

    private static long hostOf(ClusterDescriptor d) {
        return switch (d) {
            case ClusterDescriptor.Normal n -> n.hostOffset();
            case ClusterDescriptor.Zero z -> z.hostOffset();
            default -> 0;
        };
    }

    /**
     * The L2 table for a write at {@code guestOffset}: allocates an empty one, or copies a
     * table shared with a snapshot (COPIED flag clear) to a new cluster. The copy keeps
     * its entries; the data clusters' refcounts already count both tables.
     */
    WritableL2 l2ForWrite(long guestOffset) throws IOException {
        int l1Index = g.l1Index(guestOffset);
        L1Entry l1 = e.l1().get(l1Index);
        if (l1.isAllocated() && l1.copied()) {
            return new WritableL2(l1.l2Offset(), e.l2Cache().get(l1.l2Offset()));
        }
        long[] entries = l1.isAllocated() ? e.l2Cache().get(l1.l2Offset()).clone() : new long[g.l2Entries()];
        long newOffset = e.allocator().allocate(1);
        e.guard().addL2Table(newOffset);
        e.l2Cache().putNew(newOffset, entries);
        e.l1().set(l1Index, new L1Entry(newOffset, true));
        if (l1.isAllocated()) {
            // The old table stays with the snapshot; it loses the active L1's reference.
            e.allocator().deferFree(l1.l2Offset() >>> g.clusterBits(), 1);
        }
        return new WritableL2(newOffset, entries);
    }

    /** Sets entry for {@code guestOffset} in a writable table and marks it dirty. */
    void set(WritableL2 l2, long guestOffset, ClusterDescriptor d) {
        l2.entries()[g.l2Index(guestOffset)] = ClusterDescriptor.encode(d, g);
        e.l2Cache().markDirty(l2.offset());
    }

    /** Records that a descriptor's host clusters lose the active table's reference. */
    void release(ClusterDescriptor d) {
        switch (d) {
            case ClusterDescriptor.Normal n -> e.allocator().deferFree(n.hostOffset() >>> g.clusterBits(), 1);
            case ClusterDescriptor.Zero z when z.hostOffset() != 0 ->
                    e.allocator().deferFree(z.hostOffset() >>> g.clusterBits(), 1);
            case ClusterDescriptor.Compressed c ->
                    e.allocator().deferFree(c.firstCluster(g), c.lastCluster(g) - c.firstCluster(g) + 1);
            default -> {
            }
        }
    }
}
