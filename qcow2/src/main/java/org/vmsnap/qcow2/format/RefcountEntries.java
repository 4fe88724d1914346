package org.vmsnap.qcow2.format;

/**
 * Reading and writing refcount entries of width 2^refcount_order bits inside a refcount
 * block (big-endian; sub-byte widths pack the first entry into the low bits of a byte,
 * as QEMU does).
 */
public final class RefcountEntries {
    private RefcountEntries() {
    }

    public static long get(byte[] block, int index, int refcountOrder) {
        switch (refcountOrder) {
            case 0, 1, 2 -> {
                int bits = 1 << refcountOrder;
                int perByte = 8 / bits;
                int shift = (index % perByte) * bits;
                return ((block[index / perByte] & 0xff) >>> shift) & ((1 << bits) - 1);
            }
            case 3 -> {
                return block[index] & 0xffL;
            }
            case 4 -> {
                int p = index * 2;
                return ((block[p] & 0xffL) << 8) | (block[p + 1] & 0xffL);
            }
            case 5 -> {
                int p = index * 4;
                return ((block[p] & 0xffL) << 24) | ((block[p + 1] & 0xffL) << 16)
                        | ((block[p + 2] & 0xffL) << 8) | (block[p + 3] & 0xffL);
            }
            case 6 -> {
                int p = index * 8;
                long v = 0;
                for (int i = 0; i < 8; i++) {
                    v = (v << 8) | (block[p + i] & 0xffL);
                }
                return v;
            }
            default -> throw new IllegalArgumentException("refcount_order " + refcountOrder);
        }
    }

    public static void set(byte[] block, int index, int refcountOrder, long value) {
        switch (refcountOrder) {
            case 0, 1, 2 -> {
                int bits = 1 << refcountOrder;
                int perByte = 8 / bits;
                int shift = (index % perByte) * bits;
                int mask = ((1 << bits) - 1) << shift;
                int b = block[index / perByte] & 0xff;
                block[index / perByte] = (byte) ((b & ~mask) | (((int) value << shift) & mask));
            }
            case 3 -> block[index] = (byte) value;
            case 4 -> {
                int p = index * 2;
                block[p] = (byte) (value >>> 8);
                block[p + 1] = (byte) value;
            }
            case 5 -> {
                int p = index * 4;
                for (int i = 0; i < 4; i++) {
                    block[p + i] = (byte) (value >>> (24 - 8 * i));
                }
            }
            case 6 -> {
                int p = index * 8;
                for (int i = 0; i < 8; i++) {
                    block[p + i] = (byte) (value >>> (56 - 8 * i));
                }
            }
            default -> throw new IllegalArgumentException("refcount_order " + refcountOrder);
        }
    }
}
