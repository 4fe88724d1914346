package org.vmsnap.qcow2.engine;

import java.io.IOException;
import java.nio.ByteBuffer;
import org.vmsnap.qcow2.CorruptImageException;
import org.vmsnap.qcow2.format.ClusterDescriptor;
import org.vmsnap.qcow2.format.Geometry;
import org.vmsnap.qcow2.format.L1Entry;
import org.vmsnap.qcow2.format.Limits;

/**
 * Guest offset to cluster descriptor, through the active L1 table and the L2 cache; and
 * the L2 tables a write needs (allocated, or copied when shared with a snapshot).
 *
 * <p>With extended L2 entries a run ends where the state of a subcluster changes; the run
 * says what its subclusters hold in the terms of a standard cluster (Normal, Zero,
 * Unallocated), so readers never see a {@link ClusterDescriptor.Subclustered}.
 */
final class ClusterMap {

    /**
     * A run of guest bytes with one kind of descriptor: {@code first} describes its first
     * cluster (or, with extended L2 entries, its first subcluster); for Normal and allocated
     * Zero runs the host clusters are contiguous.
     *
     * @param hostOffset host byte of the run's first guest byte (Normal/allocated Zero, and
     *                   unallocated subclusters of an allocated cluster, whose offset QEMU
     *                   reports too), else -1
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

    /**
     * The descriptor of the cluster holding {@code guestOffset} in the table {@code l2} (raw
     * 64-bit words); an entry that breaks the spec is a corruption naming the entry's offset.
     */
    ClusterDescriptor decode(long[] l2, long guestOffset) throws CorruptImageException {
        int idx = g.l2Index(guestOffset);
        ClusterDescriptor d = g.extendedL2()
                ? ClusterDescriptor.decodeExtended(l2[2 * idx], l2[2 * idx + 1], g)
                : ClusterDescriptor.decode(l2[idx], g, e.header().version());
        if (d instanceof ClusterDescriptor.Invalid inv) {
            long l2Offset = e.l1().get(g.l1Index(guestOffset)).l2Offset();
            String bitmap = g.extendedL2() ? ", subcluster bitmap 0x" + Long.toHexString(l2[2 * idx + 1]) : "";
            throw new CorruptImageException(e.file(), "L2 table",
                    Math.addExact(l2Offset, (long) g.l2EntryBytes() * idx), inv.reason()
                    + " (entry 0x" + Long.toHexString(inv.raw()) + bitmap + ")");
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
        if (g.extendedL2()) {
            return subclusterRun(l2, guestOffset, limit);
        }
        ClusterDescriptor first = decode(l2, guestOffset);
        long firstHost = hostOf(first);
        long pos = g.clusterStart(guestOffset) + g.clusterSize();
        if (first instanceof ClusterDescriptor.Unallocated && pos < limit) {
            // Entries that are all zero bits are unallocated: skipped without decoding them. A
            // sparse layer's tables are mostly such entries, and a chain's block status walks
            // every table of every layer (a 64-deep chain commit: 21 million entries). The loop
            // below goes on from the first other entry, so the run is as long as before.
            int from = g.l2Index(guestOffset);
            int idx = from + 1;
            int last = g.l2Index(limit - 1);
            while (idx <= last && l2[idx] == 0) {
                idx++;
            }
            pos = g.clusterStart(guestOffset) + ((long) (idx - from) << g.clusterBits());
        }
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
     * What a stretch of subclusters holds, as a standard cluster would say it.
     *
     * @param hostCluster the host cluster of the subclusters (0: none)
     * @param count       subclusters from the first one in this state (to the cluster's end at most)
     */
    private record Piece(ClusterDescriptor kind, long hostCluster, int count) {
    }

    /** The subclusters of cluster descriptor {@code d} from {@code index} that share one state. */
    private static Piece piece(ClusterDescriptor d, int index) {
        return switch (d) {
            case ClusterDescriptor.Unallocated u -> new Piece(u, 0, Limits.SUBCLUSTERS_PER_CLUSTER - index);
            case ClusterDescriptor.Compressed c -> new Piece(c, 0, Limits.SUBCLUSTERS_PER_CLUSTER - index);
            case ClusterDescriptor.Subclustered s -> {
                ClusterDescriptor kind = switch (s.state(index)) {
                    case ALLOCATED -> new ClusterDescriptor.Normal(s.hostOffset(), s.copied());
                    case ZERO -> new ClusterDescriptor.Zero(s.hostOffset(), s.copied());
                    case UNALLOCATED -> ClusterDescriptor.UNALLOCATED;
                };
                yield new Piece(kind, s.hostOffset(), s.sameStateFrom(index));
            }
            default -> throw new IllegalStateException("not an extended L2 descriptor: " + d);
        };
    }

    /**
     * The run of subclusters from {@code guestOffset} to at most {@code limit} (QEMU's
     * count_contiguous_subclusters): it goes on into the next cluster only where the state
     * reaches the end of a cluster and the next cluster starts in the same state, with its
     * host cluster (if any) right after this one's. A compressed cluster is a run of its own.
     */
    private Run subclusterRun(long[] l2, long guestOffset, long limit) throws CorruptImageException {
        long clusterStart = g.clusterStart(guestOffset);
        Piece first = piece(decode(l2, guestOffset), g.subclusterIndex(guestOffset));
        long end = clusterStart + ((long) (g.subclusterIndex(guestOffset) + first.count()) << g.subclusterBits());
        boolean contiguous = !(first.kind() instanceof ClusterDescriptor.Compressed);
        long expectedHost = first.hostCluster();
        while (contiguous && end < limit && g.isClusterAligned(end)) {
            Piece next = piece(decode(l2, end), 0);
            if (next.kind().getClass() != first.kind().getClass() || (expectedHost == 0) != (next.hostCluster() == 0)) {
                break;
            }
            if (expectedHost != 0) {
                expectedHost += g.clusterSize();
                if (next.hostCluster() != expectedHost) {
                    break;
                }
            }
            end += (long) next.count() << g.subclusterBits();
        }
        long runEnd = Math.min(end, limit);
        long hostByte = first.hostCluster() == 0 ? -1 : first.hostCluster() + g.offsetInCluster(guestOffset);
        return new Run(first.kind(), hostByte, runEnd - guestOffset);
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
        long[] entries = l1.isAllocated() ? e.l2Cache().get(l1.l2Offset()).clone() : new long[g.l2TableWords()];
        long newOffset = e.allocator().allocate(1);
        try {
            // The table is written back later (at flush): its cluster's space is taken now, so a
            // full disk fails this write, not the flush after its refcount was made durable.
            e.store().write(newOffset, ByteBuffer.allocate(g.clusterSize()));
        } catch (IOException full) {
            e.allocator().unallocate(newOffset, 1);
            throw full;
        }
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
            case ClusterDescriptor.Subclustered s -> throw new IllegalStateException("extended L2 entries are read-only");
            default -> {
            }
        }
    }
}
