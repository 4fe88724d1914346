package org.vmsnap.qcow2.engine;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;
import org.vmsnap.qcow2.CorruptImageException;
import org.vmsnap.qcow2.format.Geometry;
import org.vmsnap.qcow2.format.Limits;
import org.vmsnap.qcow2.format.RefcountEntries;
import org.vmsnap.qcow2.io.BlockStore;

/**
 * The refcount table and a write-back cache of refcount blocks.
 *
 * <p>Refcount blocks may reach the disk at any time: the engine only lowers a refcount
 * after the tables that stopped using the cluster are durable (see {@link ClusterAllocator}),
 * so an on-disk refcount is never below the on-disk references. What must hold is that
 * raised refcounts are durable before the L2/L1 entries that use them: {@link #flush}
 * writes blocks, syncs, then writes new table entries, and the engine calls it before
 * writing any L2 or L1 table.
 */
final class RefcountTable {
    /** Refcount blocks kept in memory; dirty ones are written back when evicted. */
    private static final int CACHE_BLOCKS = 512;

    private final BlockStore store;
    private final Path file;
    private final Geometry g;
    private final OverlapGuard guard;
    private long[] table;
    private long tableOffset;
    private int tableClusters;
    private final TreeSet<Integer> dirtyTableEntries = new TreeSet<>();
    private final Map<Long, byte[]> blocks = new LinkedHashMap<>(64, 0.75f, true);
    private final TreeSet<Long> dirtyBlocks = new TreeSet<>();

    RefcountTable(BlockStore store, Path file, Geometry g, OverlapGuard guard, long tableOffset,
                  int tableClusters) throws IOException {
        this.store = store;
        this.file = file;
        this.g = g;
        this.guard = guard;
        load(tableOffset, tableClusters);
    }

    private void load(long offset, int clusters) throws IOException {
        long bytes = (long) clusters * g.clusterSize();
        ByteBuffer buf = ByteBuffer.allocate(Math.toIntExact(bytes));
        store.read(offset, buf);
        buf.flip();
        long[] t = new long[(int) (bytes / 8)];
        // One bulk copy, then a check of the entries that are set: a chain's open loads one
        // table per layer, mostly zeros (65 tables of 8192 entries for a 64-deep chain).
        buf.asLongBuffer().get(t);
        for (int i = 0; i < t.length; i++) {
            long e = t[i];
            if (e == 0) {
                continue;
            }
            // Bits 0-8 reserved, 9-55 the block offset, 56-63 reserved (a negative or huge
            // offset is as broken as a misaligned one).
            if ((e & 0x1ffL) != 0 || e < 0 || e > Limits.MAX_HOST_OFFSET || !g.isClusterAligned(e)) {
                throw new CorruptImageException(file, "refcount table", offset + 8L * i,
                        "entry 0x" + Long.toHexString(e) + " has reserved bits set or is not cluster aligned");
            }
        }
        this.table = t;
        this.tableOffset = offset;
        this.tableClusters = clusters;
    }

    long tableOffset() {
        return tableOffset;
    }

    int tableClusters() {
        return tableClusters;
    }

    int tableEntries() {
        return table.length;
    }

    /** Host offset of refcount block {@code blockIndex}, or 0. */
    long blockOffset(long blockIndex) {
        return blockIndex < table.length ? table[(int) blockIndex] : 0;
    }

    long[] tableSnapshot() {
        return table.clone();
    }

    long get(long clusterIndex) throws IOException {
        long blockIndex = clusterIndex / g.refcountBlockEntries();
        long off = blockOffset(blockIndex);
        if (off == 0) {
            return 0;
        }
        byte[] block = block(blockIndex, off);
        return RefcountEntries.get(block, (int) (clusterIndex % g.refcountBlockEntries()), g.refcountOrder());
    }

    /** Sets a refcount; the block covering the cluster must exist. */
    void set(long clusterIndex, long value) throws IOException {
        if (value < 0 || value > g.maxRefcount()) {
            throw new CorruptImageException(file, "refcount block", -1, "refcount of cluster " + clusterIndex
                    + " would become " + value + " (allowed 0.." + g.maxRefcount() + ")");
        }
        long blockIndex = clusterIndex / g.refcountBlockEntries();
        long off = blockOffset(blockIndex);
        if (off == 0) {
            throw new IllegalStateException("no refcount block for cluster " + clusterIndex);
        }
        byte[] block = block(blockIndex, off);
        RefcountEntries.set(block, (int) (clusterIndex % g.refcountBlockEntries()), g.refcountOrder(), value);
        dirtyBlocks.add(blockIndex);
    }

    private byte[] block(long blockIndex, long off) throws IOException {
        byte[] b = blocks.get(blockIndex);
        if (b != null) {
            return b;
        }
        if (off + g.clusterSize() > store.size()) {
            throw new CorruptImageException(file, "refcount block", off, "refcount block "
                    + blockIndex + " lies past the end of the file");
        }
        guard.checkIsRefcountBlock(off);
        b = new byte[g.clusterSize()];
        store.read(off, ByteBuffer.wrap(b));
        blocks.put(blockIndex, b);
        evictIfNeeded();
        return b;
    }

    private void evictIfNeeded() throws IOException {
        if (blocks.size() <= CACHE_BLOCKS) {
            return;
        }
        Iterator<Map.Entry<Long, byte[]>> it = blocks.entrySet().iterator();
        while (blocks.size() > CACHE_BLOCKS / 2 && it.hasNext()) {
            Map.Entry<Long, byte[]> e = it.next();
            if (dirtyBlocks.remove(e.getKey())) {
                writeBlock(e.getKey(), e.getValue());
            }
            it.remove();
        }
    }

    private void writeBlock(long blockIndex, byte[] block) throws IOException {
        long off = table[(int) blockIndex];
        guard.checkIsRefcountBlock(off);
        store.write(off, ByteBuffer.wrap(block));
    }

    /**
     * Installs a new refcount block at {@code hostOffset} for {@code blockIndex}; the block
     * starts zeroed in the cache and its table entry is written at the next flush, after
     * the block itself.
     */
    void installBlock(long blockIndex, long hostOffset) {
        if (blockIndex >= table.length) {
            throw new IllegalStateException("refcount table too small for block " + blockIndex);
        }
        table[(int) blockIndex] = hostOffset;
        guard.addRefcountBlock(hostOffset);
        blocks.put(blockIndex, new byte[g.clusterSize()]);
        dirtyBlocks.add(blockIndex);
        dirtyTableEntries.add((int) blockIndex);
    }

    /**
     * Writes dirty blocks, syncs, writes changed table entries, syncs. After this every
     * refcount in memory that is higher than on disk has reached the disk.
     */
    void flush() throws IOException {
        if (dirtyBlocks.isEmpty() && dirtyTableEntries.isEmpty()) {
            return;
        }
        for (Long blockIndex : dirtyBlocks) {
            writeBlock(blockIndex, blocks.get(blockIndex));
        }
        dirtyBlocks.clear();
        if (!dirtyTableEntries.isEmpty()) {
            // Blocks first: a table entry must never point at a block not yet on disk.
            store.flush();
            // Then the entries, in dependency order: a new block's own refcount may live in
            // another new block; the entry of that one must be durable first, or a crash
            // leaves a live block whose cluster has refcount 0. Blocks are placed in
            // ascending order, so the dependencies have no cycle; each level is synced.
            TreeSet<Integer> pending = new TreeSet<>(dirtyTableEntries);
            while (!pending.isEmpty()) {
                List<Integer> level = new ArrayList<>();
                for (int i : pending) {
                    long holder = (table[i] >>> g.clusterBits()) / g.refcountBlockEntries();
                    if (holder == i || !pending.contains((int) holder)) {
                        level.add(i);
                    }
                }
                if (level.isEmpty()) {
                    throw new IllegalStateException("refcount blocks hold each other's refcounts: " + pending);
                }
                for (int i : level) {
                    long off = tableOffset + 8L * i;
                    guard.checkMetadataWrite(off, 8, OverlapGuard.Kind.REFCOUNT_TABLE);
                    store.write(off, ByteBuffer.allocate(8).putLong(0, table[i]));
                }
                pending.removeAll(level);
                if (!pending.isEmpty()) {
                    store.flush();
                }
            }
            dirtyTableEntries.clear();
        }
        store.flush();
    }

    /**
     * Replaces the table by a larger copy already written at {@code newOffset} (the caller
     * wrote it, synced, and switched the header).
     */
    void switchTo(long newOffset, int newClusters, long[] newTable) {
        guard.replaceRefcountTable(tableOffset, tableClusters, newOffset, newClusters);
        this.table = newTable;
        this.tableOffset = newOffset;
        this.tableClusters = newClusters;
        dirtyTableEntries.clear();
    }

    boolean hasDirty() {
        return !dirtyBlocks.isEmpty() || !dirtyTableEntries.isEmpty();
    }
}
