package org.vmsnap.qcow2.engine;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.vmsnap.qcow2.format.Geometry;
import org.vmsnap.qcow2.io.BlockStore;

/**
 * LRU cache of L2 tables (raw 64-bit words: one per entry, or two with extended L2
 * entries), keyed by host offset. A dirty table may only be
 * written after the refcounts of the clusters it references are durable, so eviction of a
 * dirty table first runs the {@code beforeWrite} hook (which flushes refcounts).
 */
final class L2Cache {

    interface BeforeWrite {
        void run() throws IOException;
    }

    /** Memory for cached tables: 32 MiB maps 256 GiB of guest disk at 64 KiB clusters. */
    static final long BUDGET_BYTES = 32L * 1024 * 1024;

    /**
     * Tables kept for an image opened read-only (the backing files of a chain, a convert's
     * source): every reader of vmsnap walks its images in disk order, one table of each at a
     * time. With the full budget a 64-deep chain kept ~2600 tables (166 MB) alive until the
     * process ended (1 MiB each, QEMU's old default, still 68 MB), and young collections copied
     * them all to the old generation (~0.5-1 s of a 2 s commit); tables that die young cost a
     * collection nothing.
     */
    static final int READ_ONLY_TABLES = 4;

    private final BlockStore store;
    private final Geometry g;
    private final OverlapGuard guard;
    private final BeforeWrite beforeWrite;
    private final int capacity;
    private final Map<Long, long[]> tables = new LinkedHashMap<>(64, 0.75f, true);
    private final Set<Long> dirty = new HashSet<>();
    /**
     * One direct buffer for every table read and write (one thread owns the metadata): a heap
     * buffer per read was garbage of a table's size each time, and the file channel copies a
     * heap buffer through a temporary direct one. A commit through a 64-deep chain reads ~2600
     * tables (166 MB); their buffers doubled what the young collections had to go through.
     */
    private ByteBuffer io;

    L2Cache(BlockStore store, Geometry g, OverlapGuard guard, BeforeWrite beforeWrite) {
        this(store, g, guard, beforeWrite, (int) Math.max(4, BUDGET_BYTES / g.clusterSize()));
    }

    /** A cache of at most {@code capacity} tables (at least 4). */
    L2Cache(BlockStore store, Geometry g, OverlapGuard guard, BeforeWrite beforeWrite, int capacity) {
        this.store = store;
        this.g = g;
        this.guard = guard;
        this.beforeWrite = beforeWrite;
        this.capacity = Math.max(4, capacity);
    }

    long[] get(long offset) throws IOException {
        long[] t = tables.get(offset);
        if (t == null) {
            t = new long[g.l2TableWords()];
            ByteBuffer buf = ioBuffer();
            store.read(offset, buf);
            buf.flip();
            buf.asLongBuffer().get(t);
            put(offset, t);
        }
        return t;
    }

    /** Adds a table that exists only in memory so far (new or copied); it is dirty. */
    void putNew(long offset, long[] entries) throws IOException {
        put(offset, entries);
        dirty.add(offset);
    }

    void markDirty(long offset) {
        dirty.add(offset);
    }

    boolean isDirty() {
        return !dirty.isEmpty();
    }

    void drop(long offset) {
        tables.remove(offset);
        dirty.remove(offset);
    }

    private void put(long offset, long[] t) throws IOException {
        tables.put(offset, t);
        if (tables.size() > capacity) {
            Iterator<Map.Entry<Long, long[]>> it = tables.entrySet().iterator();
            while (tables.size() > capacity / 2 && it.hasNext()) {
                Map.Entry<Long, long[]> e = it.next();
                if (e.getKey() == offset) {
                    continue;
                }
                if (dirty.contains(e.getKey())) {
                    beforeWrite.run();
                    write(e.getKey(), e.getValue());
                    dirty.remove(e.getKey());
                }
                it.remove();
            }
        }
    }

    /** Writes all dirty tables; the caller has flushed refcounts before and syncs after. */
    void flush() throws IOException {
        for (Long off : dirty) {
            write(off, tables.get(off));
        }
        dirty.clear();
    }

    private void write(long offset, long[] t) throws IOException {
        guard.checkMetadataWrite(offset, g.clusterSize(), OverlapGuard.Kind.L2_TABLE);
        ByteBuffer buf = ioBuffer();
        buf.asLongBuffer().put(t);
        store.write(offset, buf);
    }

    /** The cleared I/O buffer, one cluster long (big-endian, as the tables are stored). */
    private ByteBuffer ioBuffer() {
        if (io == null) {
            io = ByteBuffer.allocateDirect(g.clusterSize());
        }
        return io.clear();
    }
}
