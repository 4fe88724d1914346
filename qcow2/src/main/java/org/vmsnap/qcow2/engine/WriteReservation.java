package org.vmsnap.qcow2.engine;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.vmsnap.qcow2.format.ClusterDescriptor;
import org.vmsnap.qcow2.format.Geometry;
import org.vmsnap.qcow2.format.L1Entry;

/**
 * How much disk space a set of guest writes can take, set aside before the first of them, so
 * that a full disk fails the operation while the image is still as it was (a commit into a
 * base that other overlays share must not leave it half-written).
 *
 * <p>The count is an upper bound: a new cluster for every data cluster not written in place
 * (unallocated, compressed, or shared with a snapshot), a new L2 table for every L1 entry
 * touched whose table is not its own, a larger L1 table when the image grows, refcount
 * blocks for all of them, and room for the refcount table to move when the new clusters
 * reach past what it covers. The allocator then reserves that many clusters past the file's
 * end and allocates only there until the reservation ends (see {@link ClusterAllocator#reserve}).
 */
final class WriteReservation {
    private final Qcow2Engine engine;
    private final ClusterMap map;
    private final RefcountTable refcounts;
    private final Geometry g;

    WriteReservation(Qcow2Engine engine, ClusterMap map, RefcountTable refcounts) {
        this.engine = engine;
        this.map = map;
        this.refcounts = refcounts;
        this.g = engine.geometry();
    }

    /**
     * @param dataRanges guest {offset, length} pairs that will be written with data
     * @param zeroRanges guest ranges that will be made to read as zeros
     * @param newSize    the virtual size the image will be grown to first (or its size)
     * @return the reserved cluster range past the file's end, or null when nothing was reserved
     */
    long[] reserve(List<long[]> dataRanges, List<long[]> zeroRanges, long newSize) throws IOException {
        List<long[]> all = new ArrayList<>(dataRanges);
        all.addAll(zeroRanges);
        long dataClusters = 0;
        // compat=0.10 has no zero flag: zeros are written as data there
        for (long[] r : engine.header().version() < 3 ? all : dataRanges) {
            for (long c = g.clusterIndex(r[0]); c <= g.clusterIndex(r[0] + r[1] - 1); c++) {
                if (!writesInPlace(g.clusterOffset(c))) {
                    dataClusters++;
                }
            }
        }
        Set<Integer> l2Tables = new HashSet<>();
        L1Table l1 = engine.l1();
        for (long[] r : all) {
            for (int i = g.l1Index(r[0]); i <= g.l1Index(r[0] + r[1] - 1); i++) {
                L1Entry e = i < l1.size() ? l1.get(i) : null;
                if (e == null || !e.isAllocated() || !e.copied()) {
                    l2Tables.add(i);
                }
            }
        }
        long l1Clusters = newSize > engine.header().size() ? g.clustersFor(g.l1EntriesFor(newSize) * 8) : 0;
        long meta = Math.addExact(Math.addExact(dataClusters, l2Tables.size()), l1Clusters);
        if (meta == 0) {
            return null; // everything is written in place
        }
        long blocks = meta / g.refcountBlockEntries() + 2; // a run crosses at most this many block ranges
        long last = g.clustersFor(engine.store().size()) + meta + blocks;
        boolean tableMoves = last / g.refcountBlockEntries() >= refcounts.tableEntries();
        long movedTable = tableMoves ? 2L * refcounts.tableClusters() + 2 + blocks : 0;
        return engine.allocator().reserve(Math.addExact(meta, blocks + movedTable));
    }

    /** Whether a write to the guest cluster at {@code guestOffset} stays in its own cluster (refcount 1). */
    private boolean writesInPlace(long guestOffset) throws IOException {
        long[] l2 = map.l2ForRead(guestOffset);
        if (l2 == null) {
            return false;
        }
        return switch (map.decode(l2, guestOffset)) {
            case ClusterDescriptor.Normal n -> n.copied();
            case ClusterDescriptor.Zero z -> z.hostOffset() != 0 && z.copied();
            default -> false;
        };
    }
}
