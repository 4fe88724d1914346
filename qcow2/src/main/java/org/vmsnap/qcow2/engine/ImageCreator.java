package org.vmsnap.qcow2.engine;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.vmsnap.qcow2.Qcow2CreateOptions;
import org.vmsnap.qcow2.format.Geometry;
import org.vmsnap.qcow2.format.Header;
import org.vmsnap.qcow2.format.HeaderExtension;
import org.vmsnap.qcow2.format.Limits;
import org.vmsnap.qcow2.format.RefcountEntries;
import org.vmsnap.qcow2.io.BlockStore;

/**
 * Lays out a new, empty qcow2 file: header cluster, refcount table, refcount blocks, L1
 * table, in that order, with refcount 1 for each of those clusters. The header is
 * written last, after the tables are synced, so a crash leaves no half-valid image.
 */
public final class ImageCreator {
    private ImageCreator() {
    }

    /** Validates options and returns the geometry; messages follow qemu-img's wording. */
    public static Geometry validate(Qcow2CreateOptions o) {
        int cs = o.clusterSizeBytes();
        if (Integer.bitCount(cs) != 1 || cs < (1 << Limits.MIN_CLUSTER_BITS) || cs > (1 << Limits.MAX_CLUSTER_BITS)) {
            throw new IllegalArgumentException("Cluster size must be a power of two between 512 and 2048k");
        }
        int rb = o.refcountBits();
        if (Integer.bitCount(rb) != 1 || rb > 64) {
            throw new IllegalArgumentException("Refcount width must be a power of two and may not exceed 64 bits");
        }
        boolean v2 = "0.10".equals(o.compat());
        if (!v2 && !"1.1".equals(o.compat()) && !"v3".equals(o.compat()) && !"v2".equals(o.compat())) {
            throw new IllegalArgumentException("Invalid parameter '" + o.compat() + "' for compat (expected 0.10 or 1.1)");
        }
        v2 |= "v2".equals(o.compat());
        if (v2 && rb != 16) {
            throw new IllegalArgumentException("Different refcount widths than 16 bits require compatibility level 1.1 or above (use compat=1.1 or greater)");
        }
        if (v2 && o.lazyRefcounts()) {
            throw new IllegalArgumentException("Lazy refcounts only supported with compatibility level 1.1 and above (use compat=1.1 or greater)");
        }
        String ct = o.compressionType() == null ? "zlib" : o.compressionType();
        if (!ct.equals("zlib") && !ct.equals("zstd")) {
            throw new IllegalArgumentException("Invalid parameter '" + ct + "' for compression_type (expected zlib or zstd)");
        }
        if (v2 && !ct.equals("zlib")) {
            throw new IllegalArgumentException("Compression type '" + ct + "' requires compatibility level 1.1 or above");
        }
        String p = o.preallocation() == null ? "off" : o.preallocation();
        if (!p.equals("off") && !p.equals("metadata")) {
            throw new IllegalArgumentException("Unsupported preallocation mode '" + p + "' (supported: off, metadata)");
        }
        if (o.backingFile() != null && o.backingFormat() == null) {
            throw new IllegalArgumentException("Backing file specified without backing format (use -F raw or -F qcow2)");
        }
        if (o.backingFile() != null && o.backingFile().getBytes(java.nio.charset.StandardCharsets.UTF_8).length
                > Limits.MAX_BACKING_FILE_NAME_BYTES) {
            throw new IllegalArgumentException("Backing file name too long (at most "
                    + Limits.MAX_BACKING_FILE_NAME_BYTES + " bytes)");
        }
        if (o.sizeBytes() < 0 || o.sizeBytes() > Limits.MAX_VIRTUAL_SIZE_BYTES) {
            throw new IllegalArgumentException("Image size must be between 0 and " + Limits.MAX_VIRTUAL_SIZE_BYTES + " bytes");
        }
        Geometry g = new Geometry(Integer.numberOfTrailingZeros(cs), Integer.numberOfTrailingZeros(rb));
        if (g.l1EntriesFor(o.sizeBytes()) * 8 > Limits.MAX_L1_TABLE_BYTES) {
            throw new IllegalArgumentException("Image size too large for cluster size " + cs
                    + " (the L1 table would exceed " + Limits.MAX_L1_TABLE_BYTES + " bytes)");
        }
        return g;
    }

    /** Writes a new image into an empty store. Size must already be resolved (not -1). */
    public static void create(BlockStore store, Qcow2CreateOptions o) throws IOException {
        Geometry g = validate(o);
        boolean v2 = "0.10".equals(o.compat()) || "v2".equals(o.compat());
        long size = (o.sizeBytes() + 511) & ~511L; // qemu-img rounds up to whole sectors
        int l1Entries = (int) g.l1EntriesFor(size);
        long l1Clusters = g.clustersFor(l1Entries * 8L);
        // Fixed point: the refcount blocks must cover the clusters of all metadata, themselves included.
        long blocks = 1;
        long tableClusters = 1;
        while (true) {
            long total = 1 + tableClusters + blocks + l1Clusters;
            long needBlocks = Math.ceilDiv(total, g.refcountBlockEntries());
            long needTable = Math.max(1, g.clustersFor(needBlocks * 8));
            if (needBlocks == blocks && needTable == tableClusters) {
                break;
            }
            blocks = needBlocks;
            tableClusters = needTable;
        }
        long tableOffset = g.clusterOffset(1);
        long blocksOffset = g.clusterOffset(1 + tableClusters);
        long l1Offset = l1Entries == 0 ? 0 : g.clusterOffset(1 + tableClusters + blocks);
        long totalClusters = 1 + tableClusters + blocks + (l1Entries == 0 ? 0 : l1Clusters);

        byte[] blockBytes = new byte[Math.toIntExact(blocks * g.clusterSize())];
        for (long c = 0; c < totalClusters; c++) {
            int blockIndex = (int) (c / g.refcountBlockEntries());
            byte[] one = new byte[g.clusterSize()];
            System.arraycopy(blockBytes, blockIndex * g.clusterSize(), one, 0, g.clusterSize());
            RefcountEntries.set(one, (int) (c % g.refcountBlockEntries()), g.refcountOrder(), 1);
            System.arraycopy(one, 0, blockBytes, blockIndex * g.clusterSize(), g.clusterSize());
        }
        ByteBuffer table = ByteBuffer.allocate(Math.toIntExact(tableClusters * g.clusterSize()));
        for (long b = 0; b < blocks; b++) {
            table.putLong(blocksOffset + b * g.clusterSize());
        }
        table.clear();
        store.truncate(g.clusterOffset(totalClusters));
        store.write(tableOffset, table);
        store.write(blocksOffset, ByteBuffer.wrap(blockBytes));
        store.flush();

        List<HeaderExtension> ext = new ArrayList<>();
        if (o.backingFormat() != null && o.backingFile() != null) {
            ext.add(HeaderExtension.backingFormat(o.backingFormat()));
        }
        boolean zstd = "zstd".equals(o.compressionType());
        long incompatible = zstd ? Header.INCOMPAT_COMPRESSION : 0;
        long compatible = o.lazyRefcounts() ? Header.COMPAT_LAZY_REFCOUNTS : 0;
        Header h = new Header(v2 ? 2 : 3, 0, 0, g.clusterBits(), size, 0, l1Entries, l1Offset, tableOffset,
                (int) tableClusters, 0, 0, incompatible, compatible, 0, g.refcountOrder(),
                v2 ? Limits.V2_HEADER_BYTES : Limits.V3_HEADER_BYTES, zstd ? Header.COMPRESSION_ZSTD : 0, ext, null);
        if (o.backingFile() != null) {
            h = h.withBacking(o.backingFile(), o.backingFormat());
        }
        if (!v2 && g.clusterSize() > 4096) {
            // Like qemu-img, name the features for tools that meet a bit they don't know; like
            // QEMU, not in clusters of 4 KiB or less, whose header cluster keeps its room for a
            // backing file name (the table takes 400 bytes).
            List<HeaderExtension> withTable = new ArrayList<>(h.extensions());
            withTable.add(HeaderExtension.standardFeatureTable());
            Header candidate = h.withExtensions(withTable);
            if (candidate.encodedLength() <= g.clusterSize()) {
                h = candidate;
            }
        }
        if (h.encodedLength() > g.clusterSize()) {
            throw new IllegalArgumentException("header with backing file name does not fit in one "
                    + g.clusterSize() + "-byte cluster");
        }
        // The whole header cluster is written, zero-padded, as qemu-img does: QEMU tells a
        // metadata-preallocated image by the file's allocated size against its refcounted
        // clusters, and then reports zero blocks inside data clusters in `qemu-img map`; with a
        // 4 KiB header its answer on vmsnap's images differed from its answer on its own.
        ByteBuffer cluster = ByteBuffer.allocate(g.clusterSize());
        cluster.put(h.encode()).clear();
        store.write(0, cluster);
        store.flush();
    }
}
