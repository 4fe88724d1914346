package org.vmsnap.qcow2.engine;

import java.io.IOException;
import org.vmsnap.qcow2.BlockStatus;
import org.vmsnap.qcow2.CorruptImageException;
import org.vmsnap.qcow2.format.Geometry;
import org.vmsnap.qcow2.io.BlockStore;

/**
 * QEMU's view of data clusters in an image that looks metadata-preallocated. When more
 * clusters have a refcount than the file system holds blocks for (QEMU's
 * qcow2_detect_metadata_preallocation: at least max(real * 10 / 9, real + 2) of them),
 * QEMU asks the file, too, where a data run holds data (BDRV_BLOCK_RECURSE, file-posix's
 * SEEK_DATA/SEEK_HOLE), and reports the file's holes inside the run as zeros that are
 * still data: qemu-img map prints {@code "zero": true, "data": true} for them.
 *
 * <p>preallocation=metadata images look like that, and so do images with extended L2
 * entries as soon as their clusters are large and only partly written (a subcluster write
 * leaves the rest of the host cluster a hole). The answer is decided once, at the first
 * status lookup, as QEMU decides it once per open image.
 */
final class MetadataPreallocation {
    private final BlockStore store;
    private final Geometry g;
    private final RefcountTable refcounts;
    private Boolean detected;

    MetadataPreallocation(BlockStore store, Geometry g, RefcountTable refcounts) {
        this.store = store;
        this.g = g;
        this.refcounts = refcounts;
    }

    /** Whether the image looks metadata-preallocated (decided on the first call). */
    boolean detected() throws IOException {
        if (detected == null) {
            detected = detect();
        }
        return detected;
    }

    private boolean detect() throws IOException {
        long realClusters = store.allocatedBytes() / g.clusterSize();
        long threshold = Math.max(Math.multiplyExact(realClusters, 10L) / 9, Math.addExact(realClusters, 2));
        long endCluster = g.clustersFor(store.size());
        long counted = 0;
        try {
            for (long i = 0; i < endCluster && counted < threshold; i++) {
                if (refcounts.get(i) != 0) {
                    counted++;
                }
            }
        } catch (CorruptImageException e) {
            return false; // QEMU takes an error here for "not preallocated"
        }
        return counted >= threshold;
    }

    /**
     * The status {@code s} of a data run (plain data with a host offset) as QEMU reports it
     * for such an image: cut at the end of the file's data extent, or zero where the run
     * starts in a hole of the file; past the end of the file (or in a hole that runs to it)
     * the whole run reads as zeros.
     */
    BlockStatus refine(BlockStatus s) throws IOException {
        if (!detected()) {
            return s;
        }
        long host = s.hostOffset();
        long fileSize = store.size();
        if (host >= fileSize) {
            return zero(s, s.lengthBytes());
        }
        long data = store.nextData(host);
        if (data < 0) {
            return zero(s, s.lengthBytes()); // a hole to the end of the file
        }
        if (data > host) {
            return zero(s, Math.min(s.lengthBytes(), data - host));
        }
        long hole = store.nextHole(host);
        return hole > host && hole - host < s.lengthBytes() ? s.withLength(hole - host) : s;
    }

    private static BlockStatus zero(BlockStatus s, long length) {
        return new BlockStatus(length, s.depth(), s.present(), true, s.data(), s.compressed(), s.hostOffset(), s.file());
    }
}
