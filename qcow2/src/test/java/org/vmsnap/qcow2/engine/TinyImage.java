package org.vmsnap.qcow2.engine;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.vmsnap.qcow2.format.RefcountEntries;

/**
 * A hand-made qcow2 image for unit tests, laid out field by field:
 *
 * <pre>
 * cluster 0  header (v3 header_length 104, or v2), extension end marker
 * cluster 1  refcount table: entry 0 -> cluster 2
 * cluster 2  refcount block for clusters 0 .. (block entries - 1)
 * cluster 3  active L1 table (one entry) -> cluster 4 | COPIED
 * cluster 4  L2 table
 * cluster 5+ whatever the test adds (data, snapshot tables, ...)
 * </pre>
 * All clusters it creates get refcount 1; tests then break one thing at a time.
 */
final class TinyImage {
    static final long COPIED = 1L << 63;
    static final long COMPRESSED = 1L << 62;

    final int clusterBits;
    final int clusterSize;
    final int refcountOrder;
    final long virtualSize;
    private byte[] buf;

    static final long REFTABLE = 1;
    static final long REFBLOCK = 2;
    static final long L1 = 3;
    static final long L2 = 4;

    private TinyImage(int clusterBits, int refcountOrder, int version) {
        this.clusterBits = clusterBits;
        this.clusterSize = 1 << clusterBits;
        this.refcountOrder = refcountOrder;
        this.virtualSize = 64L * clusterSize;
        this.buf = new byte[5 * clusterSize];
        ByteBuffer h = ByteBuffer.wrap(buf);
        h.putInt(0, 0x514649fb).putInt(4, version).putInt(20, clusterBits).putLong(24, virtualSize)
                .putInt(36, 1).putLong(40, at(L1)).putLong(48, at(REFTABLE)).putInt(56, 1);
        if (version == 3) {
            h.putInt(96, refcountOrder).putInt(100, 104);
        }
        put64(at(REFTABLE), at(REFBLOCK));
        put64(at(L1), at(L2) | COPIED);
        for (long c = 0; c < 5; c++) {
            refcount(c, 1);
        }
    }

    /** 1 KiB clusters (the smallest that can hold a misaligned offset), 16-bit refcounts, v3. */
    static TinyImage create() {
        return new TinyImage(10, 4, 3);
    }

    static TinyImage create(int clusterBits, int refcountOrder, int version) {
        return new TinyImage(clusterBits, refcountOrder, version);
    }

    long at(long cluster) {
        return cluster << clusterBits;
    }

    long clusters() {
        return buf.length >> clusterBits;
    }

    /** Appends a cluster filled with {@code pattern}, refcount 1; returns its index. */
    long newCluster(int pattern) {
        long c = clusters();
        buf = Arrays.copyOf(buf, buf.length + clusterSize);
        Arrays.fill(buf, (int) at(c), (int) at(c + 1), (byte) pattern);
        refcount(c, 1);
        return c;
    }

    /** Maps guest cluster {@code guest} to a new host data cluster (refcount 1, COPIED). */
    long data(int guest, int pattern) {
        long c = newCluster(pattern);
        l2(guest, at(c) | COPIED);
        return c;
    }

    void refcount(long cluster, long value) {
        byte[] block = Arrays.copyOfRange(buf, (int) at(REFBLOCK), (int) at(REFBLOCK + 1));
        RefcountEntries.set(block, (int) cluster, refcountOrder, value);
        System.arraycopy(block, 0, buf, (int) at(REFBLOCK), clusterSize);
    }

    long refcount(long cluster) {
        byte[] block = Arrays.copyOfRange(buf, (int) at(REFBLOCK), (int) at(REFBLOCK + 1));
        return RefcountEntries.get(block, (int) cluster, refcountOrder);
    }

    void l1(int index, long raw) {
        put64(at(L1) + 8L * index, raw);
    }

    void l2(int index, long raw) {
        put64(at(L2) + 8L * index, raw);
    }

    long l2(int index) {
        return ByteBuffer.wrap(buf).getLong((int) (at(L2) + 8L * index));
    }

    void put64(long offset, long value) {
        ByteBuffer.wrap(buf).putLong((int) offset, value);
    }

    void put32(long offset, int value) {
        ByteBuffer.wrap(buf).putInt((int) offset, value);
    }

    /**
     * Adds a snapshot table with one entry naming the L1 table at {@code l1Cluster}; returns
     * the table's cluster.
     */
    long snapshot(String id, String name, long l1Offset, int l1Size) {
        long table = newCluster(0);
        byte[] idb = id.getBytes(StandardCharsets.UTF_8);
        byte[] nb = name.getBytes(StandardCharsets.UTF_8);
        ByteBuffer e = ByteBuffer.wrap(buf, (int) at(table), clusterSize).slice();
        e.putLong(0, l1Offset).putInt(8, l1Size).putShort(12, (short) idb.length).putShort(14, (short) nb.length)
                .putInt(36, 16).putLong(40, 0).putLong(48, virtualSize);
        e.put(56, idb).put(56 + idb.length, nb);
        put32(60, 1);
        put64(64, at(table));
        return table;
    }

    Path writeTo(Path dir, String name) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, buf);
        return p;
    }
}
