package org.vmsnap.qcow2.io;

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

    /** Zeros to compare against; {@link ByteBuffer#mismatch} is vectorized by the JIT. */
    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(64 * 1024).asReadOnlyBuffer();

    /** {@code buf[from, to)} (absolute indexes) holds only zeros. */
    public static boolean isZero(ByteBuffer buf, int from, int to) {
        for (int pos = from; pos < to; ) {
            int n = Math.min(to - pos, ZEROS.capacity());
            if (buf.slice(pos, n).mismatch(ZEROS.slice(0, n)) >= 0) {
                return false;
            }
            pos += n;
        }
        return true;
    }
}
