package org.vmsnap.qcow2;

import java.util.List;

/**
 * What {@code qemu-img info} reports about one image, with QEMU's field meanings.
 *
 * @param filename             the name as the user gave it
 * @param format               "qcow2" or "raw"
 * @param virtualSizeBytes     guest-visible size
 * @param actualSizeBytes      bytes allocated on the file system
 * @param clusterSizeBytes     cluster size, or 0 for raw
 * @param dirtyFlag            the dirty bit is set (qcow2 v3)
 * @param backingFilename      the backing name as stored, or null
 * @param fullBackingFilename  the backing name resolved against the image's folder, or null
 * @param backingFilenameFormat backing format from the header extension, or null
 * @param snapshots            internal snapshots, in table order
 * @param qcow2                qcow2 specifics, or null for raw
 */
public record ImageInfo(String filename, String format, long virtualSizeBytes, long actualSizeBytes,
                        int clusterSizeBytes, boolean dirtyFlag, String backingFilename,
                        String fullBackingFilename, String backingFilenameFormat,
                        List<SnapshotInfo> snapshots, Qcow2Specific qcow2) {

    public ImageInfo {
        snapshots = List.copyOf(snapshots);
    }

    /**
     * The {@code format-specific} part for qcow2.
     *
     * @param compat          "0.10" or "1.1"
     * @param compressionType "zlib" or "zstd" (always zlib for v2, as qemu-img reports it)
     * @param lazyRefcounts   lazy refcounts feature (v3 only)
     * @param refcountBits    refcount width
     * @param corrupt         the corrupt bit (v3 only)
     * @param extendedL2      extended L2 entries (v3 only)
     */
    public record Qcow2Specific(String compat, String compressionType, boolean lazyRefcounts,
                                int refcountBits, boolean corrupt, boolean extendedL2) {
    }
}
