package org.vmsnap.qcow2.engine;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.vmsnap.qcow2.CorruptImageException;
import org.vmsnap.qcow2.format.Geometry;
import org.vmsnap.qcow2.format.Header;
import org.vmsnap.qcow2.format.Limits;
import org.vmsnap.qcow2.format.SnapshotEntry;
import org.vmsnap.qcow2.io.BlockStore;

/** Reads and validates the snapshot table named by the header. */
final class SnapshotTableReader {
    private SnapshotTableReader() {
    }

    /**
     * Bytes the table takes on disk, as QEMU counts them (snapshots_size): each entry starts
     * 8-byte aligned, and the last one ends without padding.
     */
    static long tableBytes(List<SnapshotEntry> entries) {
        long n = 0;
        for (SnapshotEntry e : entries) {
            n += e.encodedLength();
        }
        return entries.isEmpty() ? 0 : n - (entries.getLast().encodedLength() - unpaddedLength(entries.getLast()));
    }

    /** An entry's bytes without the padding after it. */
    static int unpaddedLength(SnapshotEntry e) {
        return SnapshotEntry.FIXED_BYTES + e.extraData().length
                + e.id().getBytes(java.nio.charset.StandardCharsets.UTF_8).length
                + e.name().getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
    }

    static List<SnapshotEntry> read(BlockStore store, Header header) throws IOException {
        Path file = store.path();
        Geometry g = header.geometry();
        List<SnapshotEntry> out = new ArrayList<>();
        if (header.nbSnapshots() == 0) {
            return out;
        }
        long fileSize = store.size();
        long pos = header.snapshotsOffset();
        long total = 0;
        Set<String> ids = new HashSet<>();
        for (int i = 0; i < header.nbSnapshots(); i++) {
            ByteBuffer fixed = ByteBuffer.allocate(SnapshotEntry.FIXED_BYTES);
            if (pos + SnapshotEntry.FIXED_BYTES > fileSize) {
                throw new CorruptImageException(file, "snapshot table", pos, "entry " + i
                        + " lies past the end of the file (" + fileSize + " bytes)");
            }
            store.read(pos, fixed);
            long extra = Integer.toUnsignedLong(fixed.getInt(36));
            long idSize = Short.toUnsignedInt(fixed.getShort(12));
            long nameSize = Short.toUnsignedInt(fixed.getShort(14));
            if (extra > Limits.MAX_SNAPSHOT_EXTRA_DATA_BYTES) {
                throw new CorruptImageException(file, "snapshot table", pos + 36, "entry " + i + " extra data size "
                        + extra + " exceeds " + Limits.MAX_SNAPSHOT_EXTRA_DATA_BYTES + " bytes");
            }
            // The padding after an entry need not exist: QEMU's table ends right after the last name.
            long unpadded = SnapshotEntry.FIXED_BYTES + extra + idSize + nameSize;
            long length = (unpadded + 7) & ~7L;
            if (total + unpadded > Limits.MAX_SNAPSHOT_TABLE_BYTES) {
                throw new CorruptImageException(file, "snapshot table", header.snapshotsOffset(),
                        "table exceeds " + Limits.MAX_SNAPSHOT_TABLE_BYTES + " bytes");
            }
            total += length;
            if (pos + unpadded > fileSize) {
                throw new CorruptImageException(file, "snapshot table", pos, "entry " + i
                        + " runs past the end of the file (" + fileSize + " bytes)");
            }
            ByteBuffer whole = ByteBuffer.allocate((int) unpadded);
            store.read(pos, whole);
            whole.flip();
            SnapshotEntry e = SnapshotEntry.decode(file, whole, 0, pos, header.version()).entry();
            long l1Bytes = Integer.toUnsignedLong(e.l1Size()) * 8;
            if (e.l1Size() != 0 && (!g.isClusterAligned(e.l1TableOffset()) || e.l1TableOffset() <= 0)) {
                throw new CorruptImageException(file, "snapshot table", pos, "snapshot '" + e.name()
                        + "' L1 table offset 0x" + Long.toHexString(e.l1TableOffset()) + " is not cluster aligned");
            }
            if (e.l1Size() != 0 && e.l1TableOffset() + l1Bytes > fileSize) {
                throw new CorruptImageException(file, "snapshot table", pos, "snapshot '" + e.name()
                        + "' L1 table at 0x" + Long.toHexString(e.l1TableOffset()) + " (" + l1Bytes
                        + " bytes) extends past the end of the file");
            }
            if (!ids.add(e.id())) {
                throw new CorruptImageException(file, "snapshot table", pos, "duplicate snapshot id '" + e.id() + "'");
            }
            out.add(e);
            pos += length;
        }
        return out;
    }
}
