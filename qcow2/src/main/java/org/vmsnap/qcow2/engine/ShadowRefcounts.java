package org.vmsnap.qcow2.engine;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import org.vmsnap.qcow2.CorruptImageException;
import org.vmsnap.qcow2.UnsupportedFeatureException;
import org.vmsnap.qcow2.format.Geometry;
import org.vmsnap.qcow2.format.Limits;
import org.vmsnap.qcow2.format.RefcountEntries;
import org.vmsnap.qcow2.io.BlockStore;

/**
 * The refcounts as they will be after a snapshot operation, kept beside the refcounts on
 * disk without touching them: every refcount block that changes is copied to a new cluster,
 * and a new refcount table points at the copies. The header switch that makes the
 * operation happen names the new table, so the old and the new refcounts are both complete
 * and consistent, and a crash before the switch leaves the old ones untouched.
 *
 * <p>New clusters are taken only where the old refcounts say 0 (so before the switch they
 * are free, unreferenced space) and the new ones say 0 too. Clusters the operation gives up
 * (old tables, old refcount blocks) already read 0 in the new refcounts: after the switch
 * nothing leaks, and they are only punched out of the file.
 *
 * <p>The current refcounts are read from disk, each block once (the engine has flushed
 * before the operation, so its cache and the disk agree); the block table comes from the
 * engine's {@link RefcountTable}. Work is per cluster but without a map look-up per cluster:
 * operations walk L2 tables whose clusters mostly share a refcount block.
 */
final class ShadowRefcounts {
    private final BlockStore store;
    private final Path file;
    private final Geometry g;
    private final RefcountTable current;
    private final int perBlock;
    /** New contents of every refcount block that changes, by block index. */
    private final Map<Long, byte[]> blocks = new HashMap<>();
    /** Contents before the operation of every block looked at, by block index (read once). */
    private final Map<Long, byte[]> originals = new HashMap<>();
    /** A block the refcount table does not have yet: all refcounts 0. Never written to. */
    private final byte[] zeros;
    private final int entryBits;
    private final long entryMask;
    private final int order;
    private long selectedIndex = -1;
    private byte[] selectedBefore;
    private byte[] selectedAfter; // null while the selected block is unchanged
    /** Where each changed block goes (host cluster index), once placed. */
    private final TreeMap<Long, Long> placed = new TreeMap<>();
    /** Clusters used before and free afterwards: punched after the switch. */
    private final TreeSet<Long> freed = new TreeSet<>();
    /** Clusters below this one are known to be in use in one of the two views. */
    private long scanFrom;
    private long tableOffset = -1;
    private int tableClusters;
    private long[] table;

    ShadowRefcounts(BlockStore store, Path file, Geometry g, RefcountTable current) {
        this.store = store;
        this.file = file;
        this.g = g;
        this.current = current;
        this.perBlock = g.refcountBlockEntries();
        this.entryBits = Integer.numberOfTrailingZeros(perBlock); // a power of two
        this.entryMask = perBlock - 1;
        this.order = g.refcountOrder();
        this.zeros = new byte[g.clusterSize()];
    }

    /** The refcount before the operation. */
    long before(long cluster) throws IOException {
        select(cluster >>> entryBits);
        return RefcountEntries.get(selectedBefore, (int) (cluster & entryMask), order);
    }

    /** The refcount after the operation, as far as it is known so far. */
    long after(long cluster) throws IOException {
        select(cluster >>> entryBits);
        byte[] b = selectedAfter != null ? selectedAfter : selectedBefore;
        return RefcountEntries.get(b, (int) (cluster & entryMask), order);
    }

    /**
     * Changes a refcount in the new view. Going past the refcount width's maximum is an
     * image this operation cannot express (refused before anything is written); going below
     * zero means the image's refcounts were already wrong.
     */
    void add(long cluster, long delta) throws IOException {
        if (table != null) {
            throw new IllegalStateException("refcounts changed after the new table was placed");
        }
        long blockIndex = cluster >>> entryBits;
        select(blockIndex);
        if (selectedAfter == null) {
            selectedAfter = selectedBefore.clone();
            blocks.put(blockIndex, selectedAfter);
        }
        int index = (int) (cluster & entryMask);
        long old = RefcountEntries.get(selectedAfter, index, order);
        long value = old + delta;
        if (delta > 0 && (value > g.maxRefcount() || value < 0)) {
            throw new UnsupportedFeatureException(file, "the refcount of cluster 0x"
                    + Long.toHexString(g.clusterOffset(cluster)) + " would exceed " + g.maxRefcount()
                    + ", the most " + g.refcountBits() + "-bit refcounts can hold");
        }
        if (value < 0) {
            throw new CorruptImageException(file, "refcount block", -1, "refcount of cluster 0x"
                    + Long.toHexString(g.clusterOffset(cluster)) + " would drop below zero: the image's refcounts"
                    + " are wrong (run 'vmsnap img check -r all' first)");
        }
        RefcountEntries.set(selectedAfter, index, order, value);
        // The freed set only changes where a refcount reaches or leaves 0 (rare: most changes
        // are 1 <-> 2), so the common case touches no set.
        if (value == 0) {
            if (RefcountEntries.get(selectedBefore, index, order) > 0) {
                freed.add(cluster);
            }
        } else if (old == 0) {
            freed.remove(cluster);
        }
    }

    /**
     * Makes {@code blockIndex} the block {@link #before}, {@link #after} and {@link #add} work
     * on. Operations walk tables whose clusters mostly lie in one refcount block, so one
     * remembered block spares a map look-up (and a boxed key) per cluster.
     */
    private void select(long blockIndex) throws IOException {
        if (blockIndex == selectedIndex) {
            return;
        }
        byte[] b = originals.get(blockIndex);
        if (b == null) {
            b = readOriginal(blockIndex);
            originals.put(blockIndex, b);
        }
        selectedBefore = b;
        selectedAfter = blocks.get(blockIndex);
        selectedIndex = blockIndex;
    }

    /** The block as the engine flushed it (never modified: new contents are copies). */
    private byte[] readOriginal(long blockIndex) throws IOException {
        long off = current.blockOffset(blockIndex);
        if (off == 0) {
            return zeros;
        }
        if (off + g.clusterSize() > store.size()) {
            throw new CorruptImageException(file, "refcount block", off, "refcount block " + blockIndex
                    + " lies past the end of the file");
        }
        byte[] b = new byte[g.clusterSize()];
        store.read(off, ByteBuffer.wrap(b));
        return b;
    }

    /**
     * Takes {@code n} contiguous clusters that are free before and after the operation and
     * gives them refcount 1 in the new view; returns the first cluster's host offset.
     */
    long allocate(int n) throws IOException {
        if (n <= 0) {
            throw new IllegalArgumentException("cluster count " + n);
        }
        while (!isFree(scanFrom)) {
            scanFrom++;
        }
        long start = scanFrom;
        int run = 0;
        for (long c = scanFrom; run < n; c++) {
            if (g.clusterOffset(c + 1) - 1 > Limits.MAX_HOST_OFFSET) {
                throw new UnsupportedFeatureException(file, "image file would grow past the 56-bit host offset limit");
            }
            if (isFree(c)) {
                if (run == 0) {
                    start = c;
                }
                run++;
            } else {
                run = 0;
            }
        }
        for (long c = start; c < start + n; c++) {
            add(c, 1);
        }
        return g.clusterOffset(start);
    }

    private boolean isFree(long cluster) throws IOException {
        return before(cluster) == 0 && after(cluster) == 0;
    }

    /**
     * Places every changed refcount block at a new cluster and a new refcount table that
     * points at them (the old blocks and the old table are freed in the new view). Placing
     * a block or the table changes refcounts, which may change more blocks: repeat until
     * nothing moves. No refcount may change afterwards.
     */
    void place() throws IOException {
        long oldTable = current.tableOffset() >>> g.clusterBits();
        for (long c = oldTable; c < oldTable + current.tableClusters(); c++) {
            add(c, -1);
        }
        long start = -1;
        int clusters = 0;
        int entriesPerCluster = g.clusterSize() / 8;
        while (true) {
            boolean moved = true;
            while (moved) {
                moved = false;
                for (long bi : new ArrayList<>(blocks.keySet())) {
                    if (!placed.containsKey(bi)) {
                        placed.put(bi, allocate(1) >>> g.clusterBits());
                        long oldBlock = current.blockOffset(bi);
                        if (oldBlock != 0) {
                            add(oldBlock >>> g.clusterBits(), -1);
                        }
                        moved = true;
                    }
                }
            }
            long entries = Math.max(current.tableEntries(), placed.isEmpty() ? 0 : placed.lastKey() + 1);
            int needed = Math.toIntExact(Math.ceilDiv(entries, entriesPerCluster));
            if (start >= 0 && clusters >= needed) {
                break;
            }
            if ((long) needed * g.clusterSize() > Limits.MAX_REFCOUNT_TABLE_BYTES) {
                throw new UnsupportedFeatureException(file, "refcount table would exceed "
                        + Limits.MAX_REFCOUNT_TABLE_BYTES + " bytes; the image is too large for its cluster size");
            }
            if (start >= 0) {
                for (long c = start; c < start + clusters; c++) {
                    add(c, -1); // too small after all: give it back and place a larger one
                }
            }
            clusters = needed;
            start = allocate(clusters) >>> g.clusterBits();
        }
        long[] t = new long[clusters * entriesPerCluster];
        for (int i = 0; i < current.tableEntries(); i++) {
            t[i] = current.blockOffset(i);
        }
        for (var p : placed.entrySet()) {
            t[Math.toIntExact(p.getKey())] = g.clusterOffset(p.getValue());
        }
        this.table = t;
        this.tableOffset = g.clusterOffset(start);
        this.tableClusters = clusters;
    }

    long tableOffset() {
        return tableOffset;
    }

    int tableClusters() {
        return tableClusters;
    }

    /** What {@link #place} produced: new blocks and the new table, by host offset. */
    Map<Long, byte[]> placedClusters() {
        Map<Long, byte[]> out = new TreeMap<>();
        for (var p : placed.entrySet()) {
            out.put(g.clusterOffset(p.getValue()), blocks.get(p.getKey()));
        }
        ByteBuffer tb = ByteBuffer.allocate(tableClusters * g.clusterSize());
        tb.asLongBuffer().put(table);
        out.put(tableOffset, tb.array());
        return out;
    }

    /** Runs of clusters used before and free after, as {start cluster, count}. */
    List<long[]> freedRuns() {
        List<long[]> runs = new ArrayList<>();
        long start = -1;
        long end = -1;
        for (long c : freed) {
            if (c != end) {
                if (start >= 0) {
                    runs.add(new long[] {start, end - start});
                }
                start = c;
            }
            end = c + 1;
        }
        if (start >= 0) {
            runs.add(new long[] {start, end - start});
        }
        return runs;
    }
}
