package org.vmsnap.qcow2.engine;

import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import org.vmsnap.qcow2.CorruptImageException;
import org.vmsnap.qcow2.format.Geometry;

/**
 * Knows which host clusters hold metadata and refuses any write that would land on
 * metadata of another kind. A refused write means the image (or the engine) is broken:
 * the image is marked corrupt once, further writes are refused, and the error says where.
 */
final class OverlapGuard {

    enum Kind {
        HEADER("header"), L1_TABLE("active L1 table"), L2_TABLE("L2 table"),
        REFCOUNT_TABLE("refcount table"), REFCOUNT_BLOCK("refcount block"),
        SNAPSHOT_TABLE("snapshot table"), SNAPSHOT_L1("snapshot L1 table"), DATA("data cluster");

        final String label;

        Kind(String label) {
            this.label = label;
        }
    }

    /** Called once, on the first violation, to set the corrupt bit. */
    interface CorruptionMarker {
        void markCorrupt() throws IOException;
    }

    private record Range(long startCluster, long endCluster, Kind kind) {
    }

    private final Path file;
    private final Geometry g;
    private final Map<Long, Kind> clusters = new HashMap<>();
    /** Tables spanning several clusters, by first cluster (snapshot L1s can be thousands). */
    private final TreeMap<Long, Range> ranges = new TreeMap<>();
    private CorruptionMarker marker;
    private boolean tripped;

    OverlapGuard(Path file, Geometry g) {
        this.file = file;
        this.g = g;
        clusters.put(0L, Kind.HEADER);
    }

    void setMarker(CorruptionMarker marker) {
        this.marker = marker;
    }

    boolean tripped() {
        return tripped;
    }

    void addTable(Kind kind, long offset, long bytes) {
        if (bytes > 0) {
            long start = offset >>> g.clusterBits();
            ranges.put(start, new Range(start, g.clusterIndex(offset + bytes - 1), kind));
        }
    }

    void removeTable(Kind kind, long offset) {
        long start = offset >>> g.clusterBits();
        Range r = ranges.get(start);
        if (r != null && r.kind == kind) {
            ranges.remove(start);
        }
    }

    void addL2Table(long offset) {
        clusters.put(offset >>> g.clusterBits(), Kind.L2_TABLE);
    }

    void removeL2Table(long offset) {
        clusters.remove(offset >>> g.clusterBits(), Kind.L2_TABLE);
    }

    void addRefcountBlock(long offset) {
        clusters.put(offset >>> g.clusterBits(), Kind.REFCOUNT_BLOCK);
    }

    void replaceRefcountTable(long oldOffset, int oldClusters, long newOffset, int newClusters) {
        removeTable(Kind.REFCOUNT_TABLE, oldOffset);
        addTable(Kind.REFCOUNT_TABLE, newOffset, (long) newClusters * g.clusterSize());
    }

    /** The metadata kind at a host cluster, or null for none. */
    Kind kindAt(long clusterIndex) {
        Kind k = clusters.get(clusterIndex);
        if (k != null) {
            return k;
        }
        Map.Entry<Long, Range> e = ranges.floorEntry(clusterIndex);
        return e != null && clusterIndex <= e.getValue().endCluster ? e.getValue().kind : null;
    }

    /** Refuses writing guest data at host clusters that hold metadata. */
    void checkData(long hostOffset, long length) throws IOException {
        check(hostOffset, length, Kind.DATA, true);
    }

    /** Refuses reading guest data from metadata clusters (without marking: reads change nothing). */
    void checkDataRead(long hostOffset, long length) throws IOException {
        check(hostOffset, length, Kind.DATA, false);
    }

    void checkMetadataWrite(long hostOffset, long length, Kind kind) throws IOException {
        check(hostOffset, length, kind, true);
    }

    void checkIsRefcountBlock(long hostOffset) throws IOException {
        check(hostOffset, g.clusterSize(), Kind.REFCOUNT_BLOCK, false);
    }

    private void check(long hostOffset, long length, Kind intended, boolean write) throws IOException {
        if (tripped && write) {
            throw new CorruptImageException(file, "image", -1, "marked corrupt after an earlier overlap; no more writes");
        }
        long first = hostOffset >>> g.clusterBits();
        long last = g.clusterIndex(hostOffset + Math.max(length, 1) - 1);
        for (long c = first; c <= last; c++) {
            Kind k = kindAt(c);
            if (k != null && k != intended) {
                if (!write) {
                    throw new CorruptImageException(file, intended.label, c << g.clusterBits(),
                            "overlaps the " + k.label);
                }
                trip();
                throw new CorruptImageException(file, intended.label, c << g.clusterBits(),
                        "overlaps the " + k.label + " (write refused, image marked corrupt)");
            }
        }
    }

    private void trip() throws IOException {
        if (!tripped) {
            tripped = true;
            if (marker != null) {
                marker.markCorrupt();
            }
        }
    }
}
