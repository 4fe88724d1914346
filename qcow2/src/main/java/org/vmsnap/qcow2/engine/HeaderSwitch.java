package org.vmsnap.qcow2.engine;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.vmsnap.qcow2.CorruptImageException;
import org.vmsnap.qcow2.format.Geometry;
import org.vmsnap.qcow2.format.Header;
import org.vmsnap.qcow2.format.SnapshotEntry;
import org.vmsnap.qcow2.io.BlockStore;

/**
 * One metadata change that becomes real with a single header write: "write new, flush,
 * switch, free old". Everything new (L2 copies, an L1 table, a snapshot table, refcount
 * blocks and the refcount table) goes to clusters that are free in the current image, the
 * store is flushed, then the header is written (and synced) naming the new L1 table, the
 * new snapshot table and the new refcount table at once. Those fields all lie in the
 * header's first 72 bytes, one sector, so the switch is atomic.
 *
 * <p>Crash argument: before the header write nothing on disk refers to the new clusters
 * and the old refcounts still say they are free, so the image is exactly the old one; after
 * it, the new refcounts already count every reference of the new state and give up the old
 * tables, so the image is exactly the new one, without even a leak. Freed clusters are only
 * punched out of the file afterwards.
 */
final class HeaderSwitch {
    private final Qcow2Engine e;
    private final Geometry g;
    final ShadowRefcounts refcounts;
    private final Map<Long, byte[]> writes = new TreeMap<>();

    HeaderSwitch(Qcow2Engine engine) {
        this.e = engine;
        this.g = engine.geometry();
        this.refcounts = new ShadowRefcounts(engine.store(), engine.file(), g, engine.allocator().refcounts());
    }

    /** New clusters for {@code bytes} bytes; their contents come with {@link #put}. */
    long allocate(long bytes) throws IOException {
        return refcounts.allocate(Math.toIntExact(g.clustersFor(bytes)));
    }

    /** Contents for clusters from {@link #allocate}, padded with zeros to whole clusters. */
    void put(long hostOffset, byte[] bytes) {
        int padded = Math.toIntExact(g.clustersFor(bytes.length) * g.clusterSize());
        writes.put(hostOffset, bytes.length == padded ? bytes : java.util.Arrays.copyOf(bytes, padded));
    }

    /** Gives up clusters holding {@code bytes} bytes from {@code hostOffset} (a table being replaced). */
    void release(long hostOffset, long bytes) throws IOException {
        if (bytes <= 0) {
            return;
        }
        for (long c = hostOffset >>> g.clusterBits(); c <= g.clusterIndex(hostOffset + bytes - 1); c++) {
            refcounts.add(c, -1);
        }
    }

    /** Writes a new snapshot table and gives up the old one; returns the header naming it. */
    Header replaceSnapshotTable(Header h, List<SnapshotEntry> oldEntries, List<SnapshotEntry> newEntries)
            throws IOException {
        if (!oldEntries.isEmpty()) {
            release(h.snapshotsOffset(), SnapshotTableReader.tableBytes(oldEntries));
        }
        if (newEntries.isEmpty()) {
            return h.withSnapshots(0, 0);
        }
        byte[] table = SnapshotTable.encode(e.file(), newEntries);
        long at = allocate(table.length);
        put(at, table);
        return h.withSnapshots(at, newEntries.size());
    }

    /** Table of 8-byte entries as bytes. */
    static byte[] encode(long[] entries) {
        ByteBuffer b = ByteBuffer.allocate(Math.multiplyExact(entries.length, 8));
        b.asLongBuffer().put(entries); // one bulk copy (big-endian), not a call per entry
        return b.array();
    }

    /**
     * Places the refcounts, writes every new cluster, syncs, then writes the header (the
     * commit point; {@code writeHeader} syncs). Returns the header written and the freed
     * runs to punch later.
     */
    SnapshotOps.Switched commit(Header newHeader) throws IOException {
        refcounts.place();
        Map<Long, byte[]> all = new TreeMap<>(writes);
        all.putAll(refcounts.placedClusters());
        BlockStore store = e.store();
        for (var w : all.entrySet()) {
            checkFree(w.getKey(), w.getValue().length);
        }
        for (var w : all.entrySet()) {
            store.write(w.getKey(), ByteBuffer.wrap(w.getValue()));
        }
        // New tables durable before the header names them.
        store.flush();
        Header written = newHeader.withRefcountTable(refcounts.tableOffset(), refcounts.tableClusters());
        e.beginSwitch();
        e.writeHeader(written);
        return new SnapshotOps.Switched(written, refcounts.freedRuns());
    }

    /** A new cluster must not hold metadata the engine knows: that would mean the refcounts lie. */
    private void checkFree(long hostOffset, int length) throws CorruptImageException {
        for (long c = hostOffset >>> g.clusterBits(); c <= g.clusterIndex(hostOffset + length - 1); c++) {
            OverlapGuard.Kind k = e.guard().kindAt(c);
            if (k != null) {
                throw new CorruptImageException(e.file(), k.label, g.clusterOffset(c), "has refcount 0 but holds the "
                        + k.label + "; repair the image ('vmsnap img check -r all') before changing snapshots");
            }
        }
    }
}
