package org.vmsnap.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;

import org.vmsnap.qcow2.io.ZeroScan;

/**
 * {@code qemu-img compare}: do two disks read the same? Works on any two
 * {@link BlockDevice}s, so qcow2 against raw is as easy as qcow2 against qcow2.
 *
 * <p>Ranges that read as zeros on both sides are skipped without reading them; where only
 * one side holds data, only that side is read and must be all zeros. Mismatch offsets are
 * reported at the start of the first differing 512-byte sector of a run, as qemu-img does.
 * When the sizes differ (and the mode is not strict) the common part is compared first and
 * then the extra part of the larger disk must read as zeros.
 */
public final class ImageCompare {

    /** The comparison unit qemu-img reports mismatches in. */
    static final int SECTOR_BYTES = 512;

    /** Bytes read from each side at a time. */
    static final int BUFFER_BYTES = 2 << 20;

    // qemu's block status flags, compared as one value in strict mode.
    private static final int STATUS_DATA = 0x01;
    private static final int STATUS_ZERO = 0x02;
    private static final int STATUS_OFFSET_VALID = 0x04;
    private static final int STATUS_ALLOCATED = 0x10;
    private static final int STATUS_EOF = 0x20;

    private ImageCompare() {
    }

    /** How a comparison ended. */
    public enum Outcome {
        /** Every byte reads the same (the extra part of a larger disk reads as zeros). */
        IDENTICAL,
        /** The byte at {@link Result#offset()} differs. */
        CONTENT_MISMATCH,
        /** Strict mode: the sizes differ. */
        SIZE_MISMATCH,
        /** Strict mode: the allocation status differs at {@link Result#offset()}. */
        BLOCK_STATUS_MISMATCH
    }

    /**
     * @param outcome      how it ended
     * @param offset       guest offset of the mismatch, or -1
     * @param sizesDiffer  the sizes differ and the common part was identical, so the
     *                     comparison went on into the larger disk's extra part
     *                     (qemu-img prints its size warning exactly then)
     */
    public record Result(Outcome outcome, long offset, boolean sizesDiffer) {

        /** qemu-img compare's exit code: 0 identical, 1 different. */
        public int exitCode() {
            return outcome == Outcome.IDENTICAL ? 0 : 1;
        }
    }

    /**
     * Compares two disks.
     *
     * @param strict as {@code -s}: sizes and block status must match too
     */
    public static Result compare(BlockDevice first, BlockDevice second, boolean strict, Progress progress)
            throws IOException {
        long size1 = first.size();
        long size2 = second.size();
        long common = Math.min(size1, size2);
        long total = Math.max(size1, size2);
        if (strict && size1 != size2) {
            return new Result(Outcome.SIZE_MISMATCH, -1, false);
        }
        ByteBuffer buf1 = ByteBuffer.allocate((int) Math.min(BUFFER_BYTES, Math.max(common, 1)));
        ByteBuffer buf2 = ByteBuffer.allocate(buf1.capacity());
        progress.update(0, total);

        long offset = 0;
        while (offset < common) {
            BlockStatus s1 = first.blockStatus(offset, size1 - offset);
            BlockStatus s2 = second.blockStatus(offset, size2 - offset);
            long chunk = Math.min(Math.min(s1.lengthBytes(), s2.lengthBytes()), common - offset);
            if (strict && statusFlags(s1, offset, size1) != statusFlags(s2, offset, size2)) {
                return new Result(Outcome.BLOCK_STATUS_MISMATCH, offset, false);
            }
            if (s1.zero() && s2.zero()) {
                // both read as zeros: nothing to read
            } else if (s1.present() == s2.present()) {
                if (s1.present()) {
                    chunk = Math.min(chunk, buf1.capacity());
                    fill(first, offset, buf1, chunk);
                    fill(second, offset, buf2, chunk);
                    long diff = firstDifference(buf1, buf2, (int) chunk);
                    if (diff >= 0) {
                        return new Result(Outcome.CONTENT_MISMATCH, offset + sectorStart(diff), false);
                    }
                }
            } else {
                // Only one side holds the range; the other reads zeros there.
                chunk = Math.min(chunk, buf1.capacity());
                BlockDevice holder = s1.present() ? first : second;
                fill(holder, offset, buf1, chunk);
                long nonZero = firstNonZero(buf1, (int) chunk);
                if (nonZero >= 0) {
                    return new Result(Outcome.CONTENT_MISMATCH, offset + sectorStart(nonZero), false);
                }
            }
            offset += chunk;
            progress.update(offset, total);
        }

        if (size1 == size2) {
            return new Result(Outcome.IDENTICAL, -1, false);
        }
        BlockDevice larger = size1 > size2 ? first : second;
        ByteBuffer buf = size1 > size2 ? buf1 : buf2;
        if (buf.capacity() < Math.min(BUFFER_BYTES, total - common)) {
            buf = ByteBuffer.allocate((int) Math.min(BUFFER_BYTES, total - common));
        }
        offset = common;
        while (offset < total) {
            BlockStatus s = larger.blockStatus(offset, total - offset);
            long chunk = Math.min(s.lengthBytes(), total - offset);
            if (s.present() && !s.zero()) {
                chunk = Math.min(chunk, buf.capacity());
                fill(larger, offset, buf, chunk);
                long nonZero = firstNonZero(buf, (int) chunk);
                if (nonZero >= 0) {
                    return new Result(Outcome.CONTENT_MISMATCH, offset + sectorStart(nonZero), true);
                }
            }
            offset += chunk;
            progress.update(offset, total);
        }
        return new Result(Outcome.IDENTICAL, -1, true);
    }

    /** The status as one number, as qemu compares it in strict mode (end of disk included). */
    private static int statusFlags(BlockStatus s, long offset, long size) {
        int flags = 0;
        flags |= s.data() ? STATUS_DATA : 0;
        flags |= s.zero() ? STATUS_ZERO : 0;
        flags |= s.hostOffset() >= 0 ? STATUS_OFFSET_VALID : 0;
        flags |= s.present() ? STATUS_ALLOCATED : 0;
        flags |= offset + s.lengthBytes() >= size ? STATUS_EOF : 0;
        return flags;
    }

    private static long sectorStart(long index) {
        return index - index % SECTOR_BYTES;
    }

    private static void fill(BlockDevice device, long offset, ByteBuffer buf, long length) throws IOException {
        buf.clear().limit((int) length);
        device.read(offset, buf);
    }

    /** Index of the first byte that differs in {@code [0, length)}, or -1. */
    static long firstDifference(ByteBuffer a, ByteBuffer b, int length) {
        return a.slice(0, length).mismatch(b.slice(0, length));
    }

    /** Index of the first non-zero byte in {@code [0, length)}, or -1. */
    static long firstNonZero(ByteBuffer buf, int length) {
        return ZeroScan.firstNonZero(buf, 0, length);
    }
}
