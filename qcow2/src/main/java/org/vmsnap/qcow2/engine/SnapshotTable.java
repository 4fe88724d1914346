package org.vmsnap.qcow2.engine;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import org.vmsnap.qcow2.SnapshotExistsException;
import org.vmsnap.qcow2.SnapshotNotFoundException;
import org.vmsnap.qcow2.UnsupportedFeatureException;
import org.vmsnap.qcow2.format.Limits;
import org.vmsnap.qcow2.format.SnapshotEntry;

/**
 * The snapshot table as a list of entries: lookups and id assignment as QEMU does them,
 * name rules, and the encoded table that {@link SnapshotOps} writes to a new place before
 * the header points at it. {@link SnapshotTableReader} is the other half.
 */
final class SnapshotTable {
    /** QEMU keeps names in a 256-byte C string (QEMUSnapshotInfo.name): 255 bytes at most. */
    static final int MAX_NAME_BYTES = 255;

    private SnapshotTable() {
    }

    /**
     * QEMU's find_snapshot_by_id_or_name: an entry whose id matches first, else the first
     * entry whose name matches (so "2" means id 2 even when another snapshot is named "2").
     */
    static SnapshotEntry find(Path file, List<SnapshotEntry> entries, String idOrName)
            throws SnapshotNotFoundException {
        for (SnapshotEntry e : entries) {
            if (e.id().equals(idOrName)) {
                return e;
            }
        }
        for (SnapshotEntry e : entries) {
            if (e.name().equals(idOrName)) {
                return e;
            }
        }
        throw new SnapshotNotFoundException(file, idOrName);
    }

    /** QEMU's find_new_snapshot_id: one more than the largest id read as a decimal number. */
    static String nextId(List<SnapshotEntry> entries) {
        long max = 0;
        for (SnapshotEntry e : entries) {
            max = Math.max(max, leadingNumber(e.id()));
        }
        return Long.toUnsignedString(max + 1);
    }

    /** strtoul without its sign and overflow quirks: the leading decimal digits, saturated. */
    private static long leadingNumber(String id) {
        long v = 0;
        int i = 0;
        while (i < id.length() && Character.isWhitespace(id.charAt(i))) {
            i++;
        }
        for (; i < id.length() && id.charAt(i) >= '0' && id.charAt(i) <= '9'; i++) {
            if (v > (Long.MAX_VALUE - 9) / 10) {
                return Long.MAX_VALUE - 1;
            }
            v = v * 10 + (id.charAt(i) - '0');
        }
        return v;
    }

    /** Refuses names QEMU would mangle (empty, NUL, over 255 bytes) and names already taken. */
    static void checkNewName(Path file, List<SnapshotEntry> entries, String name) throws SnapshotExistsException {
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("snapshot name must not be empty");
        }
        if (name.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("snapshot name must not contain a NUL character");
        }
        int bytes = name.getBytes(StandardCharsets.UTF_8).length;
        if (bytes > MAX_NAME_BYTES) {
            throw new IllegalArgumentException("snapshot name is too long: " + bytes + " bytes (at most "
                    + MAX_NAME_BYTES + ", as QEMU stores them)");
        }
        for (SnapshotEntry e : entries) {
            if (e.name().equals(name)) {
                throw new SnapshotExistsException(file, name, e.id());
            }
        }
    }

    /**
     * A new entry as {@code qemu-img snapshot -c} writes it: no VM state, VM clock 0,
     * icount 0, the date to the microsecond, and the three standard extra data fields.
     */
    static SnapshotEntry newEntry(long l1TableOffset, int l1Size, String id, String name, Instant now,
                                  long diskSizeBytes) {
        return new SnapshotEntry(l1TableOffset, l1Size, id, name, now.getEpochSecond(),
                (now.getNano() / 1000) * 1000, 0, 0, diskSizeBytes, 0,
                new byte[SnapshotEntry.STANDARD_EXTRA_BYTES]);
    }

    /**
     * An entry as QEMU rewrites it: extra data of at least the three standard fields (an
     * older, shorter entry gets the current disk size and icount -1, as QEMU reads it);
     * everything beyond them is kept byte for byte.
     */
    static SnapshotEntry normalize(SnapshotEntry e, long currentDiskSizeBytes) {
        byte[] extra = e.extraData();
        if (extra.length >= SnapshotEntry.STANDARD_EXTRA_BYTES) {
            return e;
        }
        byte[] grown = new byte[SnapshotEntry.STANDARD_EXTRA_BYTES];
        System.arraycopy(extra, 0, grown, 0, extra.length);
        long disk = extra.length >= 16 ? e.diskSize() : currentDiskSizeBytes;
        return new SnapshotEntry(e.l1TableOffset(), e.l1Size(), e.id(), e.name(), e.dateSec(), e.dateNsec(),
                e.vmClockNsec(), e.vmStateSize(), disk, -1, grown);
    }

    /** The whole table, entries back to back (each padded to 8 bytes), within QEMU's limits. */
    static byte[] encode(Path file, List<SnapshotEntry> entries) throws UnsupportedFeatureException {
        if (entries.size() > Limits.MAX_SNAPSHOTS) {
            throw new UnsupportedFeatureException(file, "an image holds at most " + Limits.MAX_SNAPSHOTS
                    + " snapshots (QEMU's limit)");
        }
        long total = SnapshotTableReader.tableBytes(entries);
        if (total > Limits.MAX_SNAPSHOT_TABLE_BYTES) {
            throw new UnsupportedFeatureException(file, "the snapshot table would take " + total
                    + " bytes, more than QEMU's limit of " + Limits.MAX_SNAPSHOT_TABLE_BYTES);
        }
        ByteBuffer b = ByteBuffer.allocate((int) total);
        for (SnapshotEntry e : entries) {
            byte[] one = e.encode();
            b.put(one, 0, Math.min(one.length, b.remaining())); // the last entry goes without padding
        }
        return b.array();
    }
}
