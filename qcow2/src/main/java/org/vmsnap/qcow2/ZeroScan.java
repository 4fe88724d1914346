package org.vmsnap.qcow2;

import java.nio.ByteBuffer;

/** Finds non-zero bytes in buffers, eight bytes at a time. */
final class ZeroScan {
    private ZeroScan() {
    }

    /** Index of the first non-zero byte in {@code buf[from, to)} (absolute indexes), or -1. */
    static int firstNonZero(ByteBuffer buf, int from, int to) {
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

    static boolean isZero(ByteBuffer buf, int from, int to) {
        return firstNonZero(buf, from, to) < 0;
    }
}
