package org.vmsnap.qcow2.engine;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.TreeSet;
import org.vmsnap.qcow2.CorruptImageException;
import org.vmsnap.qcow2.format.Geometry;
import org.vmsnap.qcow2.format.L1Entry;
import org.vmsnap.qcow2.io.BlockStore;

/**
 * The active L1 table, held in memory (at most 32 MiB, {@code Limits.MAX_L1_TABLE_BYTES}).
 * Changed entries are written back by {@link #flush}, which the engine calls only after
 * the L2 tables they point to are durable.
 */
final class L1Table {
    private final BlockStore store;
    private final Path file;
    private final Geometry g;
    private long offset;
    private long[] entries;
    private final TreeSet<Integer> dirty = new TreeSet<>();

    L1Table(BlockStore store, Path file, Geometry g, long offset, int size) throws IOException {
        this.store = store;
        this.file = file;
        this.g = g;
        this.offset = offset;
        this.entries = read(store, file, g, offset, size);
    }

    /** Reads and validates an L1 table (active or a snapshot's). */
    static long[] read(BlockStore store, Path file, Geometry g, long offset, int size) throws IOException {
        long[] e = new long[size];
        if (size == 0) {
            return e;
        }
        ByteBuffer buf = ByteBuffer.allocate(Math.multiplyExact(size, 8));
        store.read(offset, buf);
        buf.flip();
        long fileSize = store.size();
        for (int i = 0; i < size; i++) {
            long raw = buf.getLong();
            L1Entry d = L1Entry.decode(raw, g);
            if (d == null) {
                throw new CorruptImageException(file, "L1 table", offset + 8L * i, L1Entry.problem(raw, g));
            }
            if (d.l2Offset() != 0 && d.l2Offset() + g.clusterSize() > fileSize) {
                throw new CorruptImageException(file, "L1 table", offset + 8L * i, "L2 table offset 0x"
                        + Long.toHexString(d.l2Offset()) + " lies past the end of the file (" + fileSize + " bytes)");
            }
            e[i] = raw;
        }
        return e;
    }

    long offset() {
        return offset;
    }

    int size() {
        return entries.length;
    }

    L1Entry get(int index) {
        return index < entries.length ? L1Entry.decode(entries[index], g) : L1Entry.EMPTY;
    }

    long[] raw() {
        return entries.clone();
    }

    void set(int index, L1Entry entry) {
        entries[index] = entry.encode();
        dirty.add(index);
    }

    boolean isDirty() {
        return !dirty.isEmpty();
    }

    /** Writes changed entries, grouped into contiguous runs. The caller syncs afterwards. */
    void flush(OverlapGuard guard) throws IOException {
        Integer first = null;
        int prev = -2;
        for (int i : dirty) {
            if (first != null && i != prev + 1) {
                writeRun(guard, first, prev);
                first = null;
            }
            if (first == null) {
                first = i;
            }
            prev = i;
        }
        if (first != null) {
            writeRun(guard, first, prev);
        }
        dirty.clear();
    }

    private void writeRun(OverlapGuard guard, int from, int to) throws IOException {
        ByteBuffer b = ByteBuffer.allocate((to - from + 1) * 8);
        for (int i = from; i <= to; i++) {
            b.putLong(entries[i]);
        }
        b.flip();
        long at = offset + 8L * from;
        guard.checkMetadataWrite(at, b.remaining(), OverlapGuard.Kind.L1_TABLE);
        store.write(at, b);
    }

    /** Adopts a larger table written at {@code newOffset}; the header now points there. */
    void moveTo(long newOffset, long[] newEntries) {
        this.offset = newOffset;
        this.entries = newEntries;
        this.dirty.clear();
    }

    Path file() {
        return file;
    }
}
