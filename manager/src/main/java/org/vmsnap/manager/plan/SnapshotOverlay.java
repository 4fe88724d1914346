package org.vmsnap.manager.plan;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import org.vmsnap.qcow2.BlockDevice;
import org.vmsnap.qcow2.BlockStatus;
import org.vmsnap.qcow2.OpenOptions;
import org.vmsnap.qcow2.Qcow2CreateOptions;
import org.vmsnap.qcow2.Qcow2Image;

/**
 * Reverting to an internal snapshot inside an image that must not change (other images read
 * through it, or it is an external snapshot's frozen image): a new overlay over that image
 * that reads as the snapshot. Only what differs between the snapshot and the image's active
 * state is written into it, found from the mappings alone: a run both map to the same host
 * clusters of the image, or both leave to the backing file, is the same data and is skipped.
 * So the cost follows how far the image moved on after the snapshot, not the disk's size.
 */
final class SnapshotOverlay {
    /** Bytes copied per read/write. */
    private static final int BUFFER_BYTES = 4 << 20;

    private SnapshotOverlay() {
    }

    /** Makes the overlay at {@code target}, which must not exist (a partial name of the plan). */
    static void make(Path image, String snapshot, Path target) throws IOException {
        try (Qcow2Image active = Qcow2Image.open(image, OpenOptions.readOnlyOpen())) {
            BlockDevice snap = active.readSnapshot(snapshot);
            Qcow2CreateOptions opts = Qcow2CreateOptions.ofSize(snap.size()).withClusterSize(active.clusterSize())
                    .withBacking(image.toAbsolutePath().toString(), "qcow2");
            Qcow2Image.create(target, opts).close();
            try (Qcow2Image out = Qcow2Image.open(target, OpenOptions.readWrite())) {
                writeDifferences(snap, active, out);
                out.flush();
            }
        }
        Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("rw-------"));
    }

    private static void writeDifferences(BlockDevice snap, BlockDevice active, BlockDevice out) throws IOException {
        long size = snap.size();
        long activeSize = active.size();
        ByteBuffer buf = ByteBuffer.allocate(BUFFER_BYTES);
        long off = 0;
        while (off < size) {
            BlockStatus s = snap.blockStatus(off, Math.min(size - off, BUFFER_BYTES));
            long len = s.lengthBytes();
            boolean same = false;
            if (off < activeSize) {
                BlockStatus a = active.blockStatus(off, Math.min(len, activeSize - off));
                len = a.lengthBytes();
                same = sameData(s, a);
            }
            if (!same) {
                if (s.zero()) {
                    out.writeZeroes(off, len);
                } else {
                    buf.clear().limit((int) len);
                    snap.read(off, buf);
                    buf.flip();
                    out.write(off, buf);
                }
            }
            off += len;
        }
    }

    /** Both read the same bytes because they map to the same place, not because of their content. */
    private static boolean sameData(BlockStatus s, BlockStatus a) {
        if (s.depth() > 0 && a.depth() > 0) {
            return true; // both read the image's backing file, which does not change
        }
        if (s.depth() != 0 || a.depth() != 0) {
            return false;
        }
        if (s.zero() && a.zero() && !s.data() && !a.data()) {
            return true; // zero clusters in both
        }
        return s.data() && a.data() && !s.compressed() && !a.compressed() && s.hostOffset() >= 0
                && s.hostOffset() == a.hostOffset();
    }
}
