package org.vmsnap.qcow2.format;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import org.vmsnap.qcow2.CorruptImageException;

/**
 * One snapshot table entry. Extra data beyond the fields vmsnap knows is kept byte for
 * byte ({@code extraData} holds all of it, known fields included, as stored).
 *
 * <p>Layout: l1_table_offset u64, l1_size u32, id_str_size u16, name_size u16, date_sec u32,
 * date_nsec u32, vm_clock_nsec u64, vm_state_size u32, extra_data_size u32, extra data
 * (vm_state_size_large u64, disk_size u64, icount u64, ...), id, name, padding to 8.
 */
public record SnapshotEntry(long l1TableOffset, int l1Size, String id, String name, long dateSec,
                            int dateNsec, long vmClockNsec, long vmStateSize, long diskSize,
                            long icount, byte[] extraData) {

    /** Fixed part before the extra data. */
    public static final int FIXED_BYTES = 40;
    /** Extra data QEMU writes: vm_state_size_large, disk_size, icount. */
    public static final int STANDARD_EXTRA_BYTES = 24;

    public SnapshotEntry {
        extraData = extraData.clone();
    }

    @Override
    public byte[] extraData() {
        return extraData.clone();
    }

    /** Bytes this entry takes in the table, padding included. */
    public int encodedLength() {
        int n = FIXED_BYTES + extraData.length + id.getBytes(StandardCharsets.UTF_8).length
                + name.getBytes(StandardCharsets.UTF_8).length;
        return (n + 7) & ~7;
    }

    /** Decoded entry plus the bytes it took. */
    public record Decoded(SnapshotEntry entry, int length) {
    }

    /**
     * Decodes the entry at {@code pos} of {@code b} (the whole table), whose first byte is at
     * host offset {@code hostOffset} (for messages).
     */
    public static Decoded decode(Path file, ByteBuffer b, int pos, long hostOffset, int version)
            throws CorruptImageException {
        if (pos + FIXED_BYTES > b.limit()) {
            throw corrupt(file, hostOffset, "entry runs past the end of the snapshot table");
        }
        long l1Offset = b.getLong(pos);
        int l1Size = b.getInt(pos + 8);
        int idSize = Short.toUnsignedInt(b.getShort(pos + 12));
        int nameSize = Short.toUnsignedInt(b.getShort(pos + 14));
        long dateSec = Integer.toUnsignedLong(b.getInt(pos + 16));
        int dateNsec = b.getInt(pos + 20);
        long vmClock = b.getLong(pos + 24);
        long vmState = Integer.toUnsignedLong(b.getInt(pos + 32));
        long extraSize = Integer.toUnsignedLong(b.getInt(pos + 36));
        if (extraSize > Limits.MAX_SNAPSHOT_EXTRA_DATA_BYTES) {
            throw corrupt(file, hostOffset + 36, "extra data size " + extraSize + " exceeds "
                    + Limits.MAX_SNAPSHOT_EXTRA_DATA_BYTES + " bytes");
        }
        long total = FIXED_BYTES + extraSize + idSize + nameSize;
        if (pos + total > b.limit()) {
            throw corrupt(file, hostOffset, "entry of " + total + " bytes runs past the end of the snapshot table");
        }
        byte[] extra = new byte[(int) extraSize];
        b.get(pos + FIXED_BYTES, extra);
        ByteBuffer e = ByteBuffer.wrap(extra);
        long diskSize = -1;
        long icount = -1;
        if (extra.length >= 8) {
            vmState = e.getLong(0);
        }
        if (extra.length >= 16) {
            diskSize = e.getLong(8);
        }
        if (extra.length >= 24) {
            icount = e.getLong(16);
        }
        byte[] idBytes = new byte[idSize];
        b.get(pos + FIXED_BYTES + (int) extraSize, idBytes);
        byte[] nameBytes = new byte[nameSize];
        b.get(pos + FIXED_BYTES + (int) extraSize + idSize, nameBytes);
        if (Integer.toUnsignedLong(l1Size) * 8 > Limits.MAX_L1_TABLE_BYTES) {
            throw corrupt(file, hostOffset + 8, "snapshot L1 table too large: " + Integer.toUnsignedString(l1Size)
                    + " entries");
        }
        int length = (int) ((total + 7) & ~7L);
        return new Decoded(new SnapshotEntry(l1Offset, l1Size, new String(idBytes, StandardCharsets.UTF_8),
                new String(nameBytes, StandardCharsets.UTF_8), dateSec, dateNsec, vmClock, vmState,
                diskSize, icount, extra), length);
    }

    /** Encodes this entry (padding included), writing the known extra fields into the extra data. */
    public byte[] encode() {
        byte[] idBytes = id.getBytes(StandardCharsets.UTF_8);
        byte[] nameBytes = name.getBytes(StandardCharsets.UTF_8);
        byte[] extra = extraData.clone();
        ByteBuffer e = ByteBuffer.wrap(extra);
        if (extra.length >= 8) {
            e.putLong(0, vmStateSize);
        }
        if (extra.length >= 16) {
            e.putLong(8, diskSize);
        }
        if (extra.length >= 24) {
            e.putLong(16, icount);
        }
        ByteBuffer b = ByteBuffer.allocate(encodedLength());
        b.putLong(l1TableOffset).putInt(l1Size).putShort((short) idBytes.length).putShort((short) nameBytes.length)
                .putInt((int) dateSec).putInt(dateNsec).putLong(vmClockNsec)
                .putInt(vmStateSize > 0xffff_ffffL ? 0 : (int) vmStateSize).putInt(extra.length)
                .put(extra).put(idBytes).put(nameBytes);
        return b.array();
    }

    private static CorruptImageException corrupt(Path file, long offset, String problem) {
        return new CorruptImageException(file, "snapshot table", offset, problem);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SnapshotEntry s && s.l1TableOffset == l1TableOffset && s.l1Size == l1Size
                && s.id.equals(id) && s.name.equals(name) && s.dateSec == dateSec && s.dateNsec == dateNsec
                && s.vmClockNsec == vmClockNsec && s.vmStateSize == vmStateSize && s.diskSize == diskSize
                && s.icount == icount && Arrays.equals(s.extraData, extraData);
    }

    @Override
    public int hashCode() {
        return Long.hashCode(l1TableOffset) * 31 + id.hashCode();
    }
}
