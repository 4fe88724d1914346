package org.vmsnap.qcow2.engine;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import org.vmsnap.qcow2.CorruptImageException;
import org.vmsnap.qcow2.UnsupportedFeatureException;
import org.vmsnap.qcow2.format.Geometry;
import org.vmsnap.qcow2.format.Limits;
import org.vmsnap.qcow2.format.RefcountEntries;
import org.vmsnap.qcow2.io.BlockStore;

/**
 * Finds free host clusters, keeps their refcounts, and frees clusters late.
 *
 * <p>Ordering: a new cluster's refcount is raised in memory at once and reaches the disk
 * with {@link RefcountTable#flush} before any table refers to it. Frees are deferred:
 * {@link #deferFree} only records the decrement, and {@link #applyPendingFrees} runs after
 * the L2/L1 tables that dropped the reference are durable. So a crash leaks clusters at
 * worst and never leaves a reference to a cluster whose refcount reached zero.
 */
final class ClusterAllocator {

    /** Switches the header to a new refcount table; writes and syncs the header. */
    interface RefcountTableSwitch {
        void switchRefcountTable(long offset, int clusters) throws IOException;
    }

    private final BlockStore store;
    private final Path file;
    private final Geometry g;
    private final RefcountTable refcounts;
    private final OverlapGuard guard;
    private final RefcountTableSwitch headerSwitch;
    private long freeHint;
    /** While a reservation is active: its first cluster, below which nothing is allocated (else 0). */
    private long reservedFrom;
    /** Pending decrements: cluster index -> count. */
    private final TreeMap<Long, Long> pendingFrees = new TreeMap<>();
    /** Byte cursor for packing compressed clusters; 0 when none is open. */
    private long compressedCursor;

    ClusterAllocator(BlockStore store, Path file, Geometry g, RefcountTable refcounts, OverlapGuard guard,
                     RefcountTableSwitch headerSwitch) {
        this.store = store;
        this.file = file;
        this.g = g;
        this.refcounts = refcounts;
        this.guard = guard;
        this.headerSwitch = headerSwitch;
    }

    RefcountTable refcounts() {
        return refcounts;
    }

    long refcount(long clusterIndex) throws IOException {
        return refcounts.get(clusterIndex);
    }

    /**
     * Allocates {@code n} contiguous clusters with refcount 1; returns the host offset of
     * the first. Ranges without a refcount block get one, placed right after the run: a
     * block placed inside the run (self-describing at its range's start) would split every
     * run longer than one block's range.
     */
    long allocate(int n) throws IOException {
        if (n <= 0) {
            throw new IllegalArgumentException("cluster count " + n);
        }
        int perBlock = g.refcountBlockEntries();
        int extra = 0;
        long from = Math.max(firstFree(), reservedFrom);
        while (true) {
            long runStart = findFreeRun(from, n + extra);
            long runEnd = runStart + n + extra;
            List<Long> missing = new ArrayList<>();
            for (long bi = runStart / perBlock; bi <= (runEnd - 1) / perBlock; bi++) {
                if (refcounts.blockOffset(bi) == 0) {
                    missing.add(bi);
                }
            }
            if (!missing.isEmpty() && missing.get(missing.size() - 1) >= refcounts.tableEntries()) {
                growTable(missing.get(missing.size() - 1) + 1);
                from = Math.max(firstFree(), reservedFrom);
                extra = 0;
                continue;
            }
            if (missing.size() > extra) {
                extra = missing.size();
                from = runStart;
                continue; // need room for the new blocks as well: search again
            }
            // The new blocks go to the first clusters after the data; every cluster of the
            // run now lies in a covered range, the blocks included.
            long blockCluster = runStart + n;
            for (long bi : missing) {
                refcounts.installBlock(bi, g.clusterOffset(blockCluster++));
            }
            for (long c = runStart; c < blockCluster; c++) {
                refcounts.set(c, 1);
            }
            long offset = g.clusterOffset(runStart);
            if (offset + (long) (n + missing.size()) * g.clusterSize() > Limits.MAX_HOST_OFFSET) {
                throw new UnsupportedFeatureException(file, "image file would grow past the 56-bit host offset limit");
            }
            return offset;
        }
    }

    /**
     * Gives disk space now to {@code clusters} clusters past the end of the file and makes
     * every allocation take its clusters there until {@link #release}, so that allocations
     * of that many clusters in all cannot fail for want of space: a full disk fails here,
     * before anything was written. Free clusters inside the file (holes, perhaps) are not
     * reused meanwhile.
     *
     * @return the reserved cluster range [from, to), or null when the file system cannot
     *         reserve space (nothing was done, allocations go where they always go)
     */
    long[] reserve(long clusters) throws IOException {
        long end = Math.max(g.clustersFor(store.size()), highestUsedCluster() + 1);
        if (!store.reserve(g.clusterOffset(end), g.clusterOffset(clusters))) {
            return null;
        }
        reservedFrom = end;
        return new long[] {end, Math.addExact(end, clusters)};
    }

    /**
     * Ends a reservation: allocations may reuse free clusters anywhere again, and the blocks
     * past the file's end that no allocation took are given back (ftruncate to the same size
     * frees them; a hole punched past the end is a no-op on ext4).
     */
    void release(long[] reserved) throws IOException {
        reservedFrom = 0;
        long size = store.size();
        if (reserved[1] > g.clustersFor(size)) {
            store.truncate(size);
        }
    }

    private boolean isFree(long c) throws IOException {
        return refcounts.get(c) == 0 && !pendingFrees.containsKey(c);
    }

    /** The lowest cluster that may be free; the hint only moves past clusters found used. */
    private long firstFree() throws IOException {
        while (!isFree(freeHint)) {
            freeHint++;
        }
        return freeHint;
    }

    private long findFreeRun(long from, int n) throws IOException {
        long c = from;
        long runStart = c;
        int run = 0;
        while (run < n) {
            if (isFree(c)) {
                if (run == 0) {
                    runStart = c;
                }
                run++;
            } else {
                run = 0;
            }
            c++;
        }
        return runStart;
    }

    /**
     * Moves the refcount table to a larger place at the end of the file: write new blocks
     * and the new table, sync, switch the header, then free the old table.
     */
    private void growTable(long minEntries) throws IOException {
        int perBlock = g.refcountBlockEntries();
        int entriesPerCluster = g.clusterSize() / 8;
        long end = Math.max(highestUsedCluster() + 1, g.clustersFor(store.size()));
        long wantEntries = Math.max(minEntries, refcounts.tableEntries() + refcounts.tableEntries() / 2 + 1);
        while (true) {
            int tableClusters = Math.toIntExact(Math.ceilDiv(wantEntries, entriesPerCluster));
            if ((long) tableClusters * g.clusterSize() > Limits.MAX_REFCOUNT_TABLE_BYTES) {
                throw new UnsupportedFeatureException(file, "refcount table would exceed "
                        + Limits.MAX_REFCOUNT_TABLE_BYTES + " bytes; the image is too large for its cluster size");
            }
            long tableStart = end;
            // Blocks for the new table's own clusters and for themselves, right after it.
            List<Long> newBlocks = new ArrayList<>();
            long metaEnd = tableStart + tableClusters;
            boolean changed = true;
            while (changed) {
                changed = false;
                for (long bi = tableStart / perBlock; bi <= (metaEnd - 1) / perBlock; bi++) {
                    if (refcounts.blockOffset(bi) == 0 && !newBlocks.contains(bi)) {
                        newBlocks.add(bi);
                        metaEnd++;
                        changed = true;
                    }
                }
            }
            long maxBlock = (metaEnd - 1) / perBlock;
            if (maxBlock >= (long) tableClusters * entriesPerCluster || minEntries > (long) tableClusters * entriesPerCluster) {
                wantEntries = Math.max(wantEntries, maxBlock + 1) + entriesPerCluster;
                continue;
            }
            long[] newTable = new long[tableClusters * entriesPerCluster];
            long[] old = refcounts.tableSnapshot();
            System.arraycopy(old, 0, newTable, 0, old.length);
            long blockCluster = tableStart + tableClusters;
            TreeMap<Long, byte[]> blockData = new TreeMap<>();
            for (long bi : newBlocks) {
                newTable[(int) bi] = g.clusterOffset(blockCluster++);
                blockData.put(bi, new byte[g.clusterSize()]);
            }
            // Refcount 1 for every new metadata cluster, in a new block or an existing one.
            for (long c = tableStart; c < metaEnd; c++) {
                long bi = c / perBlock;
                byte[] nb = blockData.get(bi);
                if (nb != null) {
                    RefcountEntries.set(nb, (int) (c % perBlock), g.refcountOrder(), 1);
                } else {
                    refcounts.set(c, 1);
                }
            }
            for (var e : blockData.entrySet()) {
                long off = newTable[e.getKey().intValue()];
                guard.addRefcountBlock(off);
                store.write(off, ByteBuffer.wrap(e.getValue()));
            }
            long tableOffset = g.clusterOffset(tableStart);
            guard.addTable(OverlapGuard.Kind.REFCOUNT_TABLE, tableOffset, (long) tableClusters * g.clusterSize());
            ByteBuffer tb = ByteBuffer.allocate(tableClusters * g.clusterSize());
            for (long v : newTable) {
                tb.putLong(v);
            }
            tb.flip();
            store.write(tableOffset, tb);
            refcounts.flush(); // existing blocks that gained entries, then sync
            store.flush();
            long oldOffset = refcounts.tableOffset();
            int oldClusters = refcounts.tableClusters();
            headerSwitch.switchRefcountTable(tableOffset, tableClusters);
            refcounts.switchTo(tableOffset, tableClusters, newTable);
            deferFree(oldOffset >>> g.clusterBits(), oldClusters);
            return;
        }
    }

    /** Highest cluster index with a nonzero refcount (scans the table's blocks from the end). */
    private long highestUsedCluster() throws IOException {
        int perBlock = g.refcountBlockEntries();
        for (long bi = refcounts.tableEntries() - 1; bi >= 0; bi--) {
            if (refcounts.blockOffset(bi) == 0) {
                continue;
            }
            for (long c = (bi + 1) * perBlock - 1; c >= bi * perBlock; c--) {
                if (refcounts.get(c) != 0) {
                    return c;
                }
            }
        }
        return 0;
    }

    /** Raises a cluster's refcount by one (shared by a snapshot or another compressed fragment). */
    void increment(long clusterIndex) throws IOException {
        long rc = refcounts.get(clusterIndex);
        if (rc >= g.maxRefcount()) {
            throw new UnsupportedFeatureException(file, "refcount of cluster " + clusterIndex
                    + " would exceed the maximum " + g.maxRefcount() + " for " + g.refcountBits() + "-bit refcounts");
        }
        if (refcounts.blockOffset(clusterIndex / g.refcountBlockEntries()) == 0) {
            throw new CorruptImageException(file, "refcount table", refcounts.tableOffset(),
                    "no refcount block covers referenced cluster " + clusterIndex);
        }
        refcounts.set(clusterIndex, rc + 1);
    }

    /** Records that {@code count} clusters from {@code firstCluster} lose one reference, applied later. */
    /**
     * Takes back clusters {@link #allocate} just handed out whose first write failed (a full
     * disk, say): no table refers to them, so their refcounts go back to 0 at once and the
     * image does not leak them when its refcounts are flushed.
     */
    void unallocate(long offset, int n) throws IOException {
        long first = offset >>> g.clusterBits();
        for (long c = first; c < first + n; c++) {
            refcounts.set(c, 0);
        }
        freeHint = Math.min(freeHint, first);
        if (compressedCursor != 0 && compressedCursor >>> g.clusterBits() >= first
                && compressedCursor >>> g.clusterBits() < first + n) {
            compressedCursor = 0;
        }
    }

    /**
     * Takes back one fragment {@link #allocateCompressed} handed out whose write failed: each host
     * cluster it touches loses its count (one packed beside other fragments keeps theirs), and the
     * next fragment starts a new cluster.
     */
    void unallocateCompressed(long offset, int length) throws IOException {
        long first = offset >>> g.clusterBits();
        long last = (offset + length - 1) >>> g.clusterBits();
        for (long c = first; c <= last; c++) {
            long rc = refcounts.get(c);
            if (rc > 1) {
                refcounts.set(c, rc - 1);
            } else {
                unallocate(g.clusterOffset(c), 1);
            }
        }
        compressedCursor = 0;
    }

    void deferFree(long firstCluster, long count) {
        for (long c = firstCluster; c < firstCluster + count; c++) {
            pendingFrees.merge(c, 1L, Long::sum);
        }
    }

    boolean hasPendingFrees() {
        return !pendingFrees.isEmpty();
    }

    /**
     * Applies deferred decrements. Call only after the tables that dropped the references
     * are durable. Clusters that reach zero are punched out of the file.
     */
    void applyPendingFrees() throws IOException {
        long punchStart = -1;
        long punchEnd = -1;
        for (var e : pendingFrees.entrySet()) {
            long c = e.getKey();
            long rc = refcounts.get(c);
            long next = rc - e.getValue();
            if (next < 0) {
                throw new CorruptImageException(file, "refcount block", -1, "refcount of cluster " + c
                        + " would drop below zero (" + rc + " - " + e.getValue() + ")");
            }
            refcounts.set(c, next);
            if (next == 0) {
                freeHint = Math.min(freeHint, c);
                if (compressedCursor != 0 && c == compressedCursor >>> g.clusterBits()) {
                    compressedCursor = 0; // the cluster may be reused for anything now
                }
                if (c == punchEnd) {
                    punchEnd++;
                } else {
                    punch(punchStart, punchEnd);
                    punchStart = c;
                    punchEnd = c + 1;
                }
            }
        }
        punch(punchStart, punchEnd);
        pendingFrees.clear();
    }

    private void punch(long startCluster, long endCluster) throws IOException {
        if (startCluster >= 0 && endCluster > startCluster) {
            store.punchHole(g.clusterOffset(startCluster), g.clusterOffset(endCluster - startCluster));
        }
    }

    /**
     * Space for a compressed cluster of {@code length} bytes (at most a cluster), where QEMU puts it
     * (qcow2_alloc_bytes), so that a {@code convert -c} writes qemu-img's file: packed right after
     * the previous fragment, raising the refcount of that host cluster. A fragment that does not
     * fit in the rest of the cluster takes a new one; when the new cluster is the next one in the
     * file, the fragment still starts after the previous one and spans both clusters (each counts
     * it), else it starts the new cluster. A cluster whose refcount is at its maximum (always with
     * 1-bit refcounts) takes no more fragments.
     */
    long allocateCompressed(int length) throws IOException {
        if (length <= 0 || length > g.clusterSize()) {
            throw new IllegalArgumentException("a compressed fragment of " + length + " bytes");
        }
        long off = compressedCursor;
        if (off != 0) {
            // Only a cluster still held for compressed data (a free resets the cursor) with room in its count.
            long rc = refcounts.get(off >>> g.clusterBits());
            if (rc <= 0 || rc >= g.maxRefcount()) {
                off = 0;
            }
        }
        if (off != 0 && g.clusterStart(off) + g.clusterSize() - off >= length) {
            increment(off >>> g.clusterBits());
        } else {
            long fresh = allocate(1); // refcount 1: counts this fragment
            if (off != 0 && g.clusterStart(off) + g.clusterSize() == fresh) {
                increment(off >>> g.clusterBits()); // spans the end of the previous cluster too
            } else {
                off = fresh;
            }
        }
        long end = off + length;
        compressedCursor = g.offsetInCluster(end) == 0 ? 0 : end;
        return off;
    }
}
