package org.vmsnap.qcow2.engine;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.vmsnap.qcow2.CorruptImageException;
import org.vmsnap.qcow2.format.Geometry;
import org.vmsnap.qcow2.format.Header;
import org.vmsnap.qcow2.format.L1Entry;
import org.vmsnap.qcow2.format.SnapshotEntry;
import org.vmsnap.qcow2.io.BlockStore;

/**
 * Builds the overlap guard from the header's tables, refusing an image whose tables
 * overlap each other: such an image would be damaged by the first write.
 */
final class MetadataLayout {
    private MetadataLayout() {
    }

    static OverlapGuard guard(BlockStore store, Header h, List<SnapshotEntry> snapshots) throws IOException {
        Path file = store.path();
        Geometry g = h.geometry();
        OverlapGuard guard = new OverlapGuard(file, g);
        add(guard, file, g, OverlapGuard.Kind.L1_TABLE, h.l1TableOffset(), h.l1Size() * 8L);
        add(guard, file, g, OverlapGuard.Kind.REFCOUNT_TABLE, h.refcountTableOffset(),
                (long) h.refcountTableClusters() * g.clusterSize());
        if (!snapshots.isEmpty()) {
            add(guard, file, g, OverlapGuard.Kind.SNAPSHOT_TABLE, h.snapshotsOffset(),
                    SnapshotTableReader.tableBytes(snapshots));
            for (SnapshotEntry s : snapshots) {
                add(guard, file, g, OverlapGuard.Kind.SNAPSHOT_L1, s.l1TableOffset(), s.l1Size() * 8L);
            }
        }
        return guard;
    }

    private static void add(OverlapGuard guard, Path file, Geometry g, OverlapGuard.Kind kind, long offset,
                            long bytes) throws CorruptImageException {
        if (bytes <= 0) {
            return;
        }
        for (long c = offset >>> g.clusterBits(); c <= g.clusterIndex(offset + bytes - 1); c++) {
            OverlapGuard.Kind other = guard.kindAt(c);
            if (other != null && !(other == kind && kind == OverlapGuard.Kind.SNAPSHOT_L1)) {
                throw new CorruptImageException(file, kind.label, offset, "overlaps the " + other.label
                        + " at 0x" + Long.toHexString(c << g.clusterBits()));
            }
        }
        guard.addTable(kind, offset, bytes);
    }

    static void registerRefcountBlocks(OverlapGuard guard, Path file, Geometry g, RefcountTable refcounts,
                                       long fileSize) throws CorruptImageException {
        for (long i = 0; i < refcounts.tableEntries(); i++) {
            long off = refcounts.blockOffset(i);
            if (off == 0) {
                continue;
            }
            if (off + g.clusterSize() > fileSize) {
                throw new CorruptImageException(file, "refcount table", refcounts.tableOffset() + 8 * i,
                        "refcount block " + i + " at 0x" + Long.toHexString(off) + " lies past the end of the file");
            }
            OverlapGuard.Kind other = guard.kindAt(off >>> g.clusterBits());
            if (other != null) {
                throw new CorruptImageException(file, "refcount table", refcounts.tableOffset() + 8 * i,
                        "refcount block " + i + " at 0x" + Long.toHexString(off) + " overlaps the " + other.label);
            }
            guard.addRefcountBlock(off);
        }
    }

    static void registerL2Tables(OverlapGuard guard, Path file, Header h, long[] l1, String what)
            throws CorruptImageException {
        Geometry g = h.geometry();
        for (int i = 0; i < l1.length; i++) {
            L1Entry e = L1Entry.decode(l1[i], g);
            if (e == null || !e.isAllocated()) {
                continue;
            }
            OverlapGuard.Kind other = guard.kindAt(e.l2Offset() >>> g.clusterBits());
            if (other != null && other != OverlapGuard.Kind.L2_TABLE) {
                throw new CorruptImageException(file, what, h.l1TableOffset() + 8L * i, "L2 table at 0x"
                        + Long.toHexString(e.l2Offset()) + " overlaps the " + other.label);
            }
            guard.addL2Table(e.l2Offset());
        }
    }
}
