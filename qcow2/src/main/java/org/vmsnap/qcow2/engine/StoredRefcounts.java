package org.vmsnap.qcow2.engine;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.function.LongConsumer;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.vmsnap.qcow2.CorruptImageException;
import org.vmsnap.qcow2.format.Limits;
import org.vmsnap.qcow2.format.RefcountEntries;

/**
 * The refcounts as the image stores them: the refcount table, its refcount blocks (read on
 * demand through a small cache), single-entry repairs, and the rebuild of the whole structure
 * from the check's counts (QEMU's rebuild_refcount_structure).
 */
final class StoredRefcounts {

    /** Refcount blocks kept in memory while comparing: enough for sequential scans and repairs. */
    private static final long CACHE_BYTES = 32L * 1024 * 1024;

    private final CheckPass p;
    private final int clusterBits;
    private final int clusterSize;
    private final int refcountOrder;
    /** log2 of the clusters one refcount block describes. */
    private final int blockBits;
    private long[] reftable;
    private final Map<Long, byte[]> cache;
    private long lastOffset = -1;
    private byte[] lastBlock;
    /** Sorted refcount block clusters, for the overlap check; built on first use. */
    /** Clusters whose refcount a repair lowered to zero: punched once the refcounts are on disk. */
    private final List<Long> freed = new ArrayList<>();

    StoredRefcounts(CheckPass p) throws IOException {
        this.p = p;
        this.clusterBits = p.geometry.clusterBits();
        this.clusterSize = p.geometry.clusterSize();
        this.refcountOrder = p.geometry.refcountOrder();
        this.blockBits = clusterBits + 3 - refcountOrder;
        long entries = (long) p.header.refcountTableClusters() * clusterSize / 8;
        this.reftable = p.readTable(p.header.refcountTableOffset(), entries);
        int maxBlocks = (int) Math.max(4, CACHE_BYTES / clusterSize);
        this.cache = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<Long, byte[]> eldest) {
                return size() > maxBlocks;
            }
        };
    }

    long[] reftable() {
        return reftable;
    }

    /**
     * The stored refcount of a cluster (QEMU's qcow2_get_refcount): zero where no refcount
     * block exists, -1 when the refcount block's offset is unusable (reported once).
     */
    long get(long cluster) throws IOException {
        long index = cluster >>> blockBits;
        if (index >= reftable.length) {
            return 0;
        }
        long blockOffset = reftable[(int) index] & ~ReferenceWalker.REFT_RESERVED_MASK;
        if (blockOffset == 0) {
            return 0;
        }
        if (!p.geometry.isClusterAligned(blockOffset)) {
            p.signalCorruption("Refblock offset " + ImageChecker.hashHex(blockOffset) + " unaligned (reftable index: "
                    + ImageChecker.hashHex(index) + ")");
            return -1;
        }
        byte[] block = block(blockOffset);
        return RefcountEntries.get(block, (int) (cluster & ((1L << blockBits) - 1)), refcountOrder);
    }

    private byte[] block(long offset) throws IOException {
        if (offset == lastOffset) {
            return lastBlock;
        }
        byte[] b = cache.get(offset);
        if (b == null) {
            b = new byte[clusterSize];
            p.read(offset, ByteBuffer.wrap(b));
            cache.put(offset, b);
        }
        lastOffset = offset;
        lastBlock = b;
        return b;
    }

    /** Stores a new refcount for a cluster that has a refcount block; writes it through. */
    void set(long cluster, long value) throws IOException {
        long index = cluster >>> blockBits;
        long blockOffset = index < reftable.length ? reftable[(int) index] & ~ReferenceWalker.REFT_RESERVED_MASK : 0;
        if (blockOffset == 0 || !p.geometry.isClusterAligned(blockOffset)) {
            throw new CorruptImageException(p.path, "refcount table", p.header.refcountTableOffset() + 8 * index,
                    "no usable refcount block for cluster " + cluster);
        }
        byte[] block = block(blockOffset);
        int entry = (int) (cluster & ((1L << blockBits) - 1));
        RefcountEntries.set(block, entry, refcountOrder, value);
        int from;
        int length;
        if (refcountOrder < 3) {
            from = entry >>> (3 - refcountOrder);
            length = 1;
        } else {
            length = 1 << (refcountOrder - 3);
            from = entry * length;
        }
        p.store.write(blockOffset + from, ByteBuffer.wrap(block, from, length));
        if (value == 0) {
            freed.add(cluster);
        }
    }

    /**
     * Gives clusters whose refcount a repair dropped to zero back to the file system, as
     * QEMU's discard does; only after the refcounts that free them are durable.
     */
    void punchFreedClusters() throws IOException {
        if (freed.isEmpty()) {
            return;
        }
        p.store.flush();
        long size = p.store.size();
        for (long cluster : freed) {
            long offset = cluster << clusterBits;
            if (offset < size) {
                p.store.punchHole(offset, Math.min(clusterSize, size - offset));
            }
        }
        freed.clear();
    }

    /** Each refcount block offset the refcount table names (reserved bits cleared). */
    void forEachBlock(LongConsumer action) {
        for (long e : reftable) {
            long offset = e & ~ReferenceWalker.REFT_RESERVED_MASK;
            if (offset != 0) {
                action.accept(offset);
            }
        }
    }

    // ---- rebuild ------------------------------------------------------------------------

    /** The refcount table being built. */
    private long[] newTable;
    /** Clusters the old refcount table names, valid or not: never reused by the rebuild. */
    private Set<Long> oldBlocks;

    /**
     * Writes a new refcount structure from the counted references (QEMU's
     * rebuild_refcount_structure) and switches the header to it.
     *
     * <p>Write order is the crash-safety argument: the new refcount blocks and table go to
     * clusters that nothing references (free in {@code imrt}) and that the old refcount table
     * does not name, so until the header switch the old structure is intact; everything is
     * flushed before the header names the new table, and flushed again after. The old table
     * and blocks are then merely unreferenced (leaks the caller frees).
     */
    void rebuild(ImageChecker.Tally res, ReferenceCounter imrt) throws IOException, ImageChecker.CheckFailed {
        oldBlocks = new HashSet<>();
        for (long e : reftable) {
            long o = e & ~ReferenceWalker.REFT_RESERVED_MASK;
            if (o != 0) {
                oldBlocks.add(o >>> clusterBits);
                oldBlocks.add((o + clusterSize - 1) >>> clusterBits);
            }
        }
        newTable = new long[0];
        try {
            boolean grown = writeRefblocks(imrt, 0, imrt.size());
            long tableOffset;
            long tableClusters;
            do {
                long tableBytes = newTable.length * 8L;
                if (tableBytes > Limits.MAX_REFCOUNT_TABLE_BYTES) {
                    throw new NoRoom("refcount table of " + tableBytes + " bytes exceeds "
                            + Limits.MAX_REFCOUNT_TABLE_BYTES);
                }
                tableClusters = p.geometry.clustersFor(tableBytes);
                long[] firstFree = {0};
                tableOffset = allocate(imrt, tableClusters, firstFree);
                long start = tableOffset >>> clusterBits;
                // The table's own clusters changed counts in blocks that may already be written.
                grown = writeRefblocks(imrt, start, start + tableClusters);
            } while (grown);

            ByteBuffer table = ByteBuffer.allocate(newTable.length * 8).order(ByteOrder.BIG_ENDIAN);
            for (long e : newTable) {
                table.putLong(e);
            }
            table.flip();
            p.store.write(tableOffset, table);
            p.store.flush();

            ByteBuffer hdr = ByteBuffer.allocate(12).order(ByteOrder.BIG_ENDIAN);
            hdr.putLong(tableOffset).putInt((int) tableClusters).flip();
            p.store.write(48, hdr);
            p.store.flush();

            p.header = p.header.withRefcountTable(tableOffset, (int) tableClusters);
            reftable = newTable;
            cache.clear();
            lastOffset = -1;
            lastBlock = null;
            p.layoutChanged();
            p.refreshFileSize();
        } catch (NoRoom e) {
            res.checkErrors++;
            p.messages.add("ERROR allocating refcount structure: " + e.getMessage());
            throw new ImageChecker.CheckFailed();
        } finally {
            newTable = null;
            oldBlocks = null;
        }
    }

    /**
     * Writes the refcount block of every block range that has a counted cluster in
     * {@code [first, end)}, allocating the blocks that do not exist yet.
     *
     * @return whether the new refcount table had to grow
     */
    private boolean writeRefblocks(ReferenceCounter imrt, long first, long end) throws IOException, NoRoom {
        boolean grown = false;
        long[] firstFree = {0};
        int blockEntries = 1 << blockBits;
        for (long cluster = first; cluster < end; cluster++) {
            if (imrt.get(cluster) == 0) {
                continue;
            }
            long index = cluster >>> blockBits;
            long blockStart = index << blockBits;
            long blockOffset;
            if (index < newTable.length && newTable[(int) index] != 0) {
                blockOffset = newTable[(int) index];
            } else {
                // A block already written must not gain a cluster it does not count.
                firstFree[0] = Math.max(firstFree[0], blockStart);
                blockOffset = allocate(imrt, 1, firstFree);
                long blockCluster = blockOffset >>> clusterBits;
                if (blockCluster >= end) {
                    end = blockCluster + 1; // the block that counts this block must be written too
                }
                if (index >= newTable.length) {
                    long entriesPerCluster = clusterSize / 8;
                    long entries = ((index + 1 + entriesPerCluster - 1) / entriesPerCluster) * entriesPerCluster;
                    if (entries * 8 > Limits.MAX_REFCOUNT_TABLE_BYTES) {
                        throw new NoRoom("refcount table of " + entries * 8 + " bytes exceeds "
                                + Limits.MAX_REFCOUNT_TABLE_BYTES);
                    }
                    newTable = Arrays.copyOf(newTable, (int) entries);
                    grown = true;
                }
                newTable[(int) index] = blockOffset;
            }
            byte[] block = new byte[clusterSize];
            for (int k = 0; k < blockEntries; k++) {
                long count = imrt.get(blockStart + k);
                if (count != 0) {
                    RefcountEntries.set(block, k, refcountOrder, count);
                }
            }
            p.store.write(blockOffset, ByteBuffer.wrap(block));
            cluster = blockStart + blockEntries - 1;
        }
        return grown;
    }

    /**
     * Takes {@code count} contiguous free clusters from the counts, first fit from
     * {@code firstFree[0]} (QEMU's alloc_clusters_imrt), past the end when needed; sets their
     * count to 1. Clusters the old refcount table names are never taken.
     */
    private long allocate(ReferenceCounter imrt, long count, long[] firstFree) throws NoRoom {
        long cluster = firstFree[0];
        long run = 0;
        boolean firstGap = true;
        while (run < count) {
            boolean inside = cluster < imrt.size();
            boolean free = (!inside || imrt.get(cluster) == 0) && !oldBlocks.contains(cluster);
            if (free) {
                if (firstGap && inside) {
                    firstFree[0] = cluster;
                    firstGap = false;
                }
                run++;
            } else {
                run = 0;
            }
            cluster++;
            if (cluster > ReferenceCounter.MAX_CLUSTERS) {
                throw new NoRoom("File too large");
            }
        }
        long start = cluster - count;
        imrt.resize(Math.max(imrt.size(), cluster));
        for (long c = start; c < cluster; c++) {
            imrt.set(c, 1);
        }
        return start << clusterBits;
    }

    /** The rebuild cannot place its structure. */
    private static final class NoRoom extends Exception {
        NoRoom(String message) {
            super(message, null, false, false);
        }
    }
}
