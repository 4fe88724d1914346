package org.vmsnap.qcow2.engine;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.vmsnap.qcow2.CorruptImageException;
import org.vmsnap.qcow2.format.Geometry;

/**
 * Knows which host clusters hold metadata and refuses any write that would land on
 * metadata of another kind. A refused write means the image (or the engine) is broken:
 * the image is marked corrupt once, further writes are refused, and the error says where.
 *
 * <p>The one overlap rule of the module: the engine registers the tables of an image it
 * verified (they never share a cluster), the check registers whatever a possibly damaged
 * image names (tables may share clusters), so a cluster can hold several kinds.
 */
final class OverlapGuard {

    /**
     * Metadata kinds in the order of QEMU's qcow2_check_metadata_overlap, which names the
     * first kind it finds; {@code qemuName} is its wording in "overlaps with ...".
     */
    enum Kind {
        HEADER("header", "qcow2_header"),
        L1_TABLE("active L1 table", "active L1 table"),
        REFCOUNT_TABLE("refcount table", "refcount table"),
        SNAPSHOT_TABLE("snapshot table", "snapshot table"),
        SNAPSHOT_L1("snapshot L1 table", "inactive L1 table"),
        L2_TABLE("L2 table", "active L2 table"),
        REFCOUNT_BLOCK("refcount block", "refcount block"),
        BITMAP_DIRECTORY("bitmap directory", "bitmap directory"),
        DATA("data cluster", "data cluster");

        private static final Kind[] ALL = values();
        final String label;
        final String qemuName;

        Kind(String label, String qemuName) {
            this.label = label;
            this.qemuName = qemuName;
        }

        int bit() {
            return 1 << ordinal();
        }

        /** The first kind in check order among {@code mask}, or null. */
        static Kind first(int mask) {
            return mask == 0 ? null : ALL[Integer.numberOfTrailingZeros(mask)];
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
    /** Single-cluster structures (L2 tables, refcount blocks): a bit per kind. */
    private final Map<Long, Integer> clusters = new HashMap<>();
    /** Tables spanning several clusters, by first cluster (snapshot L1s can be thousands). */
    private final TreeMap<Long, List<Range>> ranges = new TreeMap<>();
    /** The longest range minus one, in clusters: how far back a lookup must look once ranges overlap. */
    private long maxSpan;
    /** No two ranges share a cluster: a lookup needs only the nearest range at or below. */
    private boolean rangesDisjoint = true;
    private CorruptionMarker marker;
    private boolean tripped;

    OverlapGuard(Path file, Geometry g) {
        this.file = file;
        this.g = g;
        clusters.put(0L, Kind.HEADER.bit());
    }

    void setMarker(CorruptionMarker marker) {
        this.marker = marker;
    }

    boolean tripped() {
        return tripped;
    }

    /**
     * Registers {@code bytes} of metadata at {@code offset}; a range running past the largest
     * offset ends there (offsets come from images that may be damaged).
     */
    void addTable(Kind kind, long offset, long bytes) {
        if (bytes <= 0 || offset < 0) {
            return;
        }
        long start = offset >>> g.clusterBits();
        long end = g.clusterIndex(offset > Long.MAX_VALUE - bytes ? Long.MAX_VALUE : offset + bytes - 1);
        if (start == end) {
            clusters.merge(start, kind.bit(), (a, b) -> a | b);
            return;
        }
        if (rangesDisjoint && maskOfRanges(start, end) != 0) {
            rangesDisjoint = false;
        }
        ranges.computeIfAbsent(start, k -> new ArrayList<>(1)).add(new Range(start, end, kind));
        maxSpan = Math.max(maxSpan, end - start);
    }

    /** Removes the table of {@code kind} registered at {@code offset}, if any. */
    void removeTable(Kind kind, long offset) {
        long start = offset >>> g.clusterBits();
        List<Range> at = ranges.get(start);
        if (at != null && at.removeIf(r -> r.kind == kind)) {
            if (at.isEmpty()) {
                ranges.remove(start);
            }
            return;
        }
        clusters.computeIfPresent(start, (k, m) -> (m & ~kind.bit()) == 0 ? null : m & ~kind.bit());
    }

    void addL2Table(long offset) {
        addTable(Kind.L2_TABLE, offset, g.clusterSize());
    }

    void removeL2Table(long offset) {
        removeTable(Kind.L2_TABLE, offset);
    }

    void addRefcountBlock(long offset) {
        addTable(Kind.REFCOUNT_BLOCK, offset, g.clusterSize());
    }

    void replaceRefcountTable(long oldOffset, int oldClusters, long newOffset, int newClusters) {
        removeTable(Kind.REFCOUNT_TABLE, oldOffset);
        addTable(Kind.REFCOUNT_TABLE, newOffset, (long) newClusters * g.clusterSize());
    }

    /** The metadata kind at a host cluster (the first in check order if several), or null for none. */
    Kind kindAt(long clusterIndex) {
        return Kind.first(maskAt(clusterIndex));
    }

    private int maskAt(long c) {
        return clusters.getOrDefault(c, 0) | maskOfRanges(c, c);
    }

    /** The kinds of the registered ranges that touch clusters {@code [first, last]}. */
    private int maskOfRanges(long first, long last) {
        int mask = 0;
        if (rangesDisjoint) {
            Map.Entry<Long, List<Range>> below = ranges.floorEntry(first);
            if (below != null && below.getValue().getFirst().endCluster >= first) {
                mask |= below.getValue().getFirst().kind.bit();
            }
            if (last > first) {
                for (List<Range> rs : ranges.subMap(first, false, last, true).values()) {
                    mask |= rs.getFirst().kind.bit();
                }
            }
            return mask;
        }
        long from = first > Long.MIN_VALUE + maxSpan ? first - maxSpan : Long.MIN_VALUE;
        for (List<Range> rs : ranges.subMap(from, true, last, true).values()) {
            for (Range r : rs) {
                if (r.endCluster >= first) {
                    mask |= r.kind.bit();
                }
            }
        }
        return mask;
    }

    /**
     * QEMU's pre-write overlap check: the first kind in check order, other than the
     * {@code allowed} ones, that holds any cluster of {@code [offset, offset + length)}; or null.
     */
    Kind firstOverlap(long offset, long length, Set<Kind> allowed) {
        long first = offset >>> g.clusterBits();
        long last = g.clusterIndex(offset + Math.max(length, 1) - 1);
        int mask = maskOfRanges(first, last);
        for (long c = first; c <= last; c++) {
            mask |= clusters.getOrDefault(c, 0);
        }
        for (Kind k : allowed) {
            mask &= ~k.bit();
        }
        return Kind.first(mask);
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
            Kind k = Kind.first(maskAt(c) & ~intended.bit());
            if (k != null) {
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
