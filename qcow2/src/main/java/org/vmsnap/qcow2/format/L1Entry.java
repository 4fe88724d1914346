package org.vmsnap.qcow2.format;

/**
 * A decoded L1 entry: bits 0-8 and 56-62 reserved, bits 9-55 the L2 table's host offset
 * (0: no L2 table), bit 63 COPIED (the L2 table's refcount is exactly one).
 */
public record L1Entry(long l2Offset, boolean copied) {

    public static final long COPIED = 1L << 63;
    public static final long OFFSET_MASK = 0x00ff_ffff_ffff_fe00L;
    public static final long RESERVED_MASK = 0x7f00_0000_0000_01ffL;
    public static final L1Entry EMPTY = new L1Entry(0, false);

    /**
     * Decodes a raw entry, or returns null when it breaks the spec (reserved bits or a
     * misaligned offset); the caller reports that with its own file and offset.
     */
    public static L1Entry decode(long raw, Geometry g) {
        if ((raw & RESERVED_MASK) != 0) {
            return null;
        }
        long offset = raw & OFFSET_MASK;
        if (!g.isClusterAligned(offset)) {
            return null;
        }
        return new L1Entry(offset, (raw & COPIED) != 0);
    }

    /** Why {@link #decode} refused this raw entry. */
    public static String problem(long raw, Geometry g) {
        if ((raw & RESERVED_MASK) != 0) {
            return "L1 entry 0x" + Long.toHexString(raw) + " has reserved bits set";
        }
        return "L2 table offset 0x" + Long.toHexString(raw & OFFSET_MASK) + " is not cluster aligned";
    }

    public long encode() {
        return l2Offset | (copied ? COPIED : 0);
    }

    public boolean isAllocated() {
        return l2Offset != 0;
    }
}
