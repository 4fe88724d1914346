package org.vmsnap.qcow2.io;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

/** Finds non-zero bytes in buffers (the copy loops of the API and the block store's zero-aware writes). */
public final class ZeroScan {
    private ZeroScan() {
    }

    /** Index of the first non-zero byte in {@code buf[from, to)} (absolute indexes), or -1. */
    public static int firstNonZero(ByteBuffer buf, int from, int to) {
        int i = from;
        for (; i + Long.BYTES <= to; i += Long.BYTES) {
            if (buf.getLong(i) != 0) {
                break;
            }
        }
        for (; i < to; i++) {
            if (buf.get(i) != 0) {
                return i;
            }
        }
        return -1;
    }

    /** Zeros to compare against; {@link MemorySegment#mismatch} is vectorized by the JIT. */
    private static final MemorySegment ZEROS = Arena.global().allocate(64 * 1024);

    /**
     * {@code buf[from, to)} (absolute indexes) holds only zeros.
     *
     * <p>Allocates nothing for a block that starts with a nonzero word (nearly every data block),
     * and a segment view per call otherwise: a loop over the blocks of one buffer makes the view
     * once ({@link #whole}) and calls the form below. Why: the copy loops ask this of every 4 KiB
     * block; two buffer slices per block were 94 MB of garbage in a convert of 2 GiB, which the
     * JVM's young generation spread over 100 MB of memory touched for the first time (C1, which
     * the img verbs run with, does not take such slices apart as C2 can).
     */
    public static boolean isZero(ByteBuffer buf, int from, int to) {
        return !startsNonZero(buf, from, to) && isZero(whole(buf), from, to);
    }

    /**
     * {@code buf[from, to)} holds only zeros; {@code whole} is {@link #whole}{@code (buf)}, made once
     * for the many blocks of one buffer. Allocates nothing.
     */
    public static boolean isZero(ByteBuffer buf, MemorySegment whole, int from, int to) {
        return !startsNonZero(buf, from, to) && isZero(whole, from, to);
    }

    /** A nonzero first word: settles most data blocks without a scan (checks the range first). */
    private static boolean startsNonZero(ByteBuffer buf, int from, int to) {
        java.util.Objects.checkFromToIndex(from, to, buf.limit());
        return to - from >= Long.BYTES && buf.getLong(from) != 0;
    }

    /** All of {@code buf}, index 0 to its capacity, as a segment for the scans of this class. */
    public static MemorySegment whole(ByteBuffer buf) {
        return MemorySegment.ofBuffer(buf.duplicate().clear());
    }

    /**
     * {@code seg[from, to)} holds only zeros. Allocates nothing: a loop that scans many blocks of
     * one buffer makes its segment once ({@link #whole}).
     */
    public static boolean isZero(MemorySegment seg, long from, long to) {
        for (long pos = from; pos < to; ) {
            long n = Math.min(to - pos, ZEROS.byteSize());
            if (MemorySegment.mismatch(seg, pos, pos + n, ZEROS, 0, n) >= 0) {
                return false;
            }
            pos += n;
        }
        return true;
    }
}
