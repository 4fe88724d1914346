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
    private static final long BUDGET_BYTES = 32L * 1024 * 1024;

    private final BlockStore store;
    private final Geometry g;
    private final OverlapGuard guard;
    private final BeforeWrite beforeWrite;
    private final int capacity;
    private final Map<Long, long[]> tables = new LinkedHashMap<>(64, 0.75f, true);
    private final Set<Long> dirty = new HashSet<>();

    L2Cache(BlockStore store, Geometry g, OverlapGuard guard, BeforeWrite beforeWrite) {
        this.store = store;
        this.g = g;
        this.guard = guard;
        this.beforeWrite = beforeWrite;
        this.capacity = (int) Math.max(4, BUDGET_BYTES / g.clusterSize());
    }

    long[] get(long offset) throws IOException {
        long[] t = tables.get(offset);
        if (t == null) {
            t = new long[g.l2TableWords()];
            ByteBuffer buf = ByteBuffer.allocate(g.clusterSize());
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
        ByteBuffer buf = ByteBuffer.allocate(g.clusterSize());
        buf.asLongBuffer().put(t);
        store.write(offset, buf);
    }
}
