package org.vmsnap.qcow2.engine;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
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

/**
 * The one reader of the snapshot table: {@link #scan} walks the entries with the layout and
 * limits QEMU applies; opening an image ({@link #read}) refuses what is past the end of the
 * file or otherwise unusable, the check ({@link #readForCheck}) reports it as QEMU's check does.
 */
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
                + e.id().getBytes(StandardCharsets.UTF_8).length
                + e.name().getBytes(StandardCharsets.UTF_8).length;
    }

    static List<SnapshotEntry> read(BlockStore store, Header header) throws IOException {
        Path file = store.path();
        Geometry g = header.geometry();
        List<SnapshotEntry> out = new ArrayList<>();
        long fileSize = store.size();
        Set<String> ids = new HashSet<>();
        try {
            scan(header, fileSize, store::read, false, (i, pos, whole) -> {
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
                    throw new CorruptImageException(file, "snapshot table", pos,
                            "duplicate snapshot id '" + e.id() + "'");
                }
                out.add(e);
            });
        } catch (Refused r) {
            throw new CorruptImageException(file, "snapshot table", r.at, switch (r.rule) {
                case ENTRY_PAST_END -> "entry " + r.index + " lies past the end of the file (" + fileSize + " bytes)";
                case EXTRA_TOO_BIG -> "entry " + r.index + " extra data size " + r.value + " exceeds "
                        + Limits.MAX_SNAPSHOT_EXTRA_DATA_BYTES + " bytes";
                case TABLE_TOO_BIG -> "table exceeds " + Limits.MAX_SNAPSHOT_TABLE_BYTES + " bytes";
                case NAMES_PAST_END -> "entry " + r.index + " runs past the end of the file (" + fileSize + " bytes)";
            });
        }
        return out;
    }

    // ---- the layout both the open and the check read ------------------------------------

    /** Where a table read stopped: a rule of the layout broken at entry {@code index}. */
    static final class Refused extends Exception {
        enum Rule { ENTRY_PAST_END, EXTRA_TOO_BIG, TABLE_TOO_BIG, NAMES_PAST_END }

        final Rule rule;
        final int index;
        /** The offset to name in the error. */
        final long at;
        final long value;

        Refused(Rule rule, int index, long at, long value) {
            super(null, null, false, false);
            this.rule = rule;
            this.index = index;
            this.at = at;
            this.value = value;
        }
    }

    interface Source {
        void read(long offset, ByteBuffer dst) throws IOException;
    }

    interface EntrySink {
        /** One entry: its index, its host offset and its bytes without the padding after it. */
        void accept(int index, long pos, ByteBuffer entry) throws IOException;
    }

    /**
     * Walks the table's entries (QEMU's qcow2_do_read_snapshots): each starts 8-byte aligned;
     * its extra data may not exceed {@link Limits#MAX_SNAPSHOT_EXTRA_DATA_BYTES}, and the table
     * up to the end of each entry may not exceed {@link Limits#MAX_SNAPSHOT_TABLE_BYTES}.
     *
     * @param pastEndReadsZeros whether what lies past the end of the file reads as zeros (the
     *                          check, as QEMU's reads do) or is refused (opening the image)
     * @return the bytes the table takes (QEMU's snapshots_size: the last entry unpadded)
     */
    static long scan(Header header, long fileSize, Source src, boolean pastEndReadsZeros, EntrySink sink)
            throws IOException, Refused {
        long nb = Integer.toUnsignedLong(header.nbSnapshots());
        long start = header.snapshotsOffset();
        long pos = start;
        long total = 0;
        for (int i = 0; i < nb; i++) {
            pos = (pos + 7) & ~7L;
            if (!pastEndReadsZeros && pos + SnapshotEntry.FIXED_BYTES > fileSize) {
                throw new Refused(Refused.Rule.ENTRY_PAST_END, i, pos, 0);
            }
            ByteBuffer fixed = ByteBuffer.allocate(SnapshotEntry.FIXED_BYTES);
            src.read(pos, fixed);
            long extra = Integer.toUnsignedLong(fixed.getInt(36));
            long idSize = Short.toUnsignedInt(fixed.getShort(12));
            long nameSize = Short.toUnsignedInt(fixed.getShort(14));
            if (extra > Limits.MAX_SNAPSHOT_EXTRA_DATA_BYTES) {
                throw new Refused(Refused.Rule.EXTRA_TOO_BIG, i, pos + 36, extra);
            }
            // The padding after an entry need not exist: QEMU's table ends right after the last name.
            long unpadded = SnapshotEntry.FIXED_BYTES + extra + idSize + nameSize;
            if (total + unpadded > Limits.MAX_SNAPSHOT_TABLE_BYTES) {
                throw new Refused(Refused.Rule.TABLE_TOO_BIG, i, start, total + unpadded);
            }
            if (!pastEndReadsZeros && pos + unpadded > fileSize) {
                throw new Refused(Refused.Rule.NAMES_PAST_END, i, pos, 0);
            }
            ByteBuffer whole = ByteBuffer.allocate((int) unpadded);
            src.read(pos, whole);
            whole.flip();
            sink.accept(i, pos, whole);
            total += (unpadded + 7) & ~7L;
            pos += unpadded;
        }
        return pos - start;
    }

    // ---- the check's reading ------------------------------------------------------------

    /** What the check needs of a snapshot table entry. */
    record Snapshot(long l1TableOffset, long l1Size, String id, String name, long extraDataSize) {
    }

    /**
     * Reads the snapshot table the way QEMU's check does (qcow2_check_read_snapshot_table):
     * the layout and limits of {@link #scan}, but what lies past the end of the file reads as
     * zeros, and a snapshot L1 table that is misaligned or too large is a finding of the walk
     * ({@link ReferenceWalker}) rather than a refusal of the table.
     */
    static void readForCheck(CheckPass p, ImageChecker.Tally res)
            throws IOException, ImageChecker.CheckFailed {
        Header h = p.header;
        p.snapshots.clear();
        p.layoutChanged();
        p.snapshotsSizeBytes = 0;
        try {
            p.snapshotsSizeBytes = scan(h, p.fileSize, p::read, true, (i, pos, e) -> {
                int idSize = Short.toUnsignedInt(e.getShort(12));
                int nameSize = Short.toUnsignedInt(e.getShort(14));
                long extraSize = Integer.toUnsignedLong(e.getInt(36));
                int names = SnapshotEntry.FIXED_BYTES + (int) extraSize;
                byte[] raw = e.array();
                p.snapshots.add(new Snapshot(e.getLong(0), Integer.toUnsignedLong(e.getInt(8)),
                        cString(raw, names, idSize), cString(raw, names + idSize, nameSize), extraSize));
            });
        } catch (Refused r) {
            res.checkErrors++;
            switch (r.rule) {
                case EXTRA_TOO_BIG -> {
                    p.messages.add("ERROR failed to read the snapshot table: Too much extra metadata in snapshot"
                            + " table entry " + r.index);
                    p.messages.add("You can force-remove this extra metadata with qemu-img check -r all");
                }
                case TABLE_TOO_BIG -> {
                    p.messages.add("ERROR failed to read the snapshot table: Snapshot table is too big");
                    p.messages.add("You can force-remove all " + (Integer.toUnsignedLong(h.nbSnapshots()) - r.index)
                            + " overhanging snapshots with qemu-img check -r all");
                }
                case ENTRY_PAST_END, NAMES_PAST_END -> throw new IllegalStateException("the check reads zeros there");
            }
            throw new ImageChecker.CheckFailed();
        }
        if (h.version() >= 3) {
            for (int i = 0; i < p.snapshots.size(); i++) {
                // v3 entries carry at least vm_state_size_large and disk_size.
                if (p.snapshots.get(i).extraDataSize() < 16) {
                    res.corruptions++;
                    p.messages.add("ERROR snapshot table entry " + i + " is incomplete");
                }
            }
        }
    }

    /** A name as C prints it: up to the first NUL. */
    private static String cString(byte[] b, int from, int length) {
        int end = from;
        while (end < from + length && b[end] != 0) {
            end++;
        }
        return new String(b, from, end - from, StandardCharsets.UTF_8);
    }
}
