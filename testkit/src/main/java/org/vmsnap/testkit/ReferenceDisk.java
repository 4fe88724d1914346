package org.vmsnap.testkit;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.Objects;

/**
 * An in-memory model of a virtual disk, the oracle of the model-based tests: whatever an
 * image reads, the model must read too.
 *
 * <p>Sparse: the disk is cut into {@link #CHUNK_BYTES} chunks and only chunks that were
 * written are stored, so a model of a 1 TiB disk with a few MiB of data is a few MiB.
 *
 * <p>A disk may have a backing model ({@link #overlay}); a chunk this disk never wrote reads
 * from the backing, and from zeros past the backing's end. The backing is treated as
 * immutable while an overlay uses it (as QEMU requires of a backing file): a partial write
 * copies the backing's bytes of that chunk into the overlay ("copy on write").
 *
 * <h2>Discard, as measured with qemu-io 7.2 (64 KiB clusters)</h2>
 * <ul>
 *   <li>Only whole clusters are discarded; a cluster counts as whole when the range covers
 *       it up to its end or up to the end of the disk (QEMU's "complete partial cluster at
 *       the end of an unaligned file"). The rest of the range keeps its data.</li>
 *   <li>compat=1.1 (v3): discarded clusters read as zeros, with or without a backing file
 *       ({@code discard 0 64k} on an overlay whose backing holds 0xaa reads 0x00; so does a
 *       discard of a cluster the overlay never allocated).</li>
 *   <li>compat=0.10 (v2) without a backing file: discarded clusters read as zeros.</li>
 *   <li>compat=0.10 (v2) with a backing file: discard reports success and changes nothing;
 *       allocated clusters keep the overlay's data, unallocated ones keep reading the
 *       backing ({@code qemu-img map} unchanged).</li>
 *   <li>raw on ext4: exactly the range reads as zeros (hole punch), any alignment.</li>
 *   <li>With extended L2 entries QEMU 7.2 still discards whole clusters only.</li>
 * </ul>
 * {@link #deallocate} models the other meaning ("the range falls through to the backing
 * file"), which QEMU uses internally (e.g. emptying an overlay after commit).
 *
 * <h2>Resize, as measured with qemu-io/qemu-img 7.2</h2>
 * The model: growing makes the new area read as zeros, also where the backing file has
 * data; shrinking forgets the data past the new end. QEMU agrees, with two exceptions:
 * <ul>
 *   <li>a v2 overlay whose backing reaches past the old end cannot grow ("Failed to zero
 *       out new clusters");</li>
 *   <li>qcow2 keeps the bytes of a partial last cluster past a shrunken end and shows them
 *       again after a grow ({@code write -P 0xaa 0 64k; truncate 8704; truncate 1M} reads
 *       0xaa at 8704 with 64 KiB clusters; raw reads zeros), except when the backing reaches
 *       past the old end, where QEMU zeroes the new area. The model reads zeros: it states
 *       what an engine should do, not this leak of truncated data.</li>
 * </ul>
 *
 * <p>Not thread-safe.
 */
public final class ReferenceDisk {

    /** Storage granularity of the model; independent of the modelled cluster size. */
    public static final int CHUNK_BYTES = 64 * 1024;

    /** Largest single read: a Java array. */
    private static final int MAX_READ_BYTES = Integer.MAX_VALUE - 8;

    /** Step of {@link #firstDifference}: big enough to be fast, small enough for any heap. */
    private static final int COMPARE_STEP_BYTES = 1 << 20;

    /** Shared marker: "present in this layer, all zeros". Never written to. */
    private static final byte[] ZERO_CHUNK = new byte[CHUNK_BYTES];

    /** What {@link #discard} does. */
    public enum DiscardRule {
        /** qcow2 compat=1.1: whole clusters read as zeros afterwards, backing or not. */
        QCOW2_V3,
        /** qcow2 compat=0.10: whole clusters read as zeros without a backing; with one, nothing changes. */
        QCOW2_V2,
        /** raw: exactly the range reads as zeros. */
        RAW
    }

    /** Reads {@code dst.remaining()} bytes at {@code offset}; {@code BlockDevice::read} fits. */
    @FunctionalInterface
    public interface Reader {
        void read(long offset, ByteBuffer dst) throws IOException;
    }

    private final Map<Long, byte[]> chunks = new HashMap<>();
    private final ReferenceDisk backing;
    private final int clusterBytes;
    private final DiscardRule discardRule;
    private long sizeBytes;

    private ReferenceDisk(long sizeBytes, int clusterBytes, DiscardRule discardRule, ReferenceDisk backing) {
        if (sizeBytes < 0) {
            throw new IllegalArgumentException("negative size " + sizeBytes);
        }
        if (clusterBytes < 512 || Integer.bitCount(clusterBytes) != 1) {
            throw new IllegalArgumentException("cluster size must be a power of two >= 512, got " + clusterBytes);
        }
        this.sizeBytes = sizeBytes;
        this.clusterBytes = clusterBytes;
        this.discardRule = Objects.requireNonNull(discardRule);
        this.backing = backing;
    }

    /** An empty (all zeros) qcow2 disk; {@code version} 3 is compat=1.1, 2 is compat=0.10. */
    public static ReferenceDisk qcow2(long sizeBytes, int clusterBytes, int version) {
        return new ReferenceDisk(sizeBytes, clusterBytes, ruleFor(version), null);
    }

    /** An empty (all zeros) raw disk. */
    public static ReferenceDisk raw(long sizeBytes) {
        return new ReferenceDisk(sizeBytes, 512, DiscardRule.RAW, null);
    }

    /**
     * An empty qcow2 overlay over {@code backing}, as {@code qemu-img create -b}: same size,
     * reads the backing until written.
     */
    public static ReferenceDisk overlay(ReferenceDisk backing, int clusterBytes, int version) {
        return new ReferenceDisk(backing.size(), clusterBytes, ruleFor(version), Objects.requireNonNull(backing));
    }

    private static DiscardRule ruleFor(int version) {
        return switch (version) {
            case 2 -> DiscardRule.QCOW2_V2;
            case 3 -> DiscardRule.QCOW2_V3;
            default -> throw new IllegalArgumentException("qcow2 version is 2 or 3, got " + version);
        };
    }

    public long size() {
        return sizeBytes;
    }

    public int clusterBytes() {
        return clusterBytes;
    }

    public DiscardRule discardRule() {
        return discardRule;
    }

    /** The backing model, or null. */
    public ReferenceDisk backing() {
        return backing;
    }

    /** Writes {@code data} at {@code offset}. */
    public void write(long offset, byte[] data) {
        write(offset, ByteBuffer.wrap(data));
    }

    /** Writes the remaining bytes of {@code src} at {@code offset} (src's position is not moved). */
    public void write(long offset, ByteBuffer src) {
        ByteBuffer data = src.duplicate();
        checkRange(offset, data.remaining());
        long at = offset;
        while (data.hasRemaining()) {
            long index = at / CHUNK_BYTES;
            int within = (int) (at % CHUNK_BYTES);
            int n = Math.min(CHUNK_BYTES - within, data.remaining());
            byte[] chunk = writableChunk(index);
            data.get(chunk, within, n);
            normalize(index, chunk);
            at += n;
        }
    }

    /** Writes {@code length} bytes of value {@code pattern}, like {@code qemu-io write -P}. */
    public void writePattern(long offset, long length, int pattern) {
        checkRange(offset, length);
        byte value = (byte) pattern;
        long end = offset + length;
        for (long at = offset; at < end; ) {
            long index = at / CHUNK_BYTES;
            int within = (int) (at % CHUNK_BYTES);
            int n = (int) Math.min(CHUNK_BYTES - within, end - at);
            byte[] chunk = writableChunk(index);
            Arrays.fill(chunk, within, within + n, value);
            normalize(index, chunk);
            at += n;
        }
    }

    /** Makes exactly the range read as zeros, like {@code qemu-io write -z}. */
    public void writeZeroes(long offset, long length) {
        checkRange(offset, length);
        long end = offset + length;
        for (long at = offset; at < end; ) {
            long index = at / CHUNK_BYTES;
            int within = (int) (at % CHUNK_BYTES);
            int n = (int) Math.min(CHUNK_BYTES - within, end - at);
            if (n == CHUNK_BYTES) {
                setZero(index);
            } else {
                byte[] chunk = writableChunk(index);
                Arrays.fill(chunk, within, within + n, (byte) 0);
                normalize(index, chunk);
            }
            at += n;
        }
    }

    /**
     * Discards the range as {@code qemu-io discard} does for this disk's format: see the
     * class comment for the measured rules.
     */
    public void discard(long offset, long length) {
        checkRange(offset, length);
        if (length == 0) {
            return;
        }
        switch (discardRule) {
            case RAW -> writeZeroes(offset, length);
            case QCOW2_V2 -> {
                if (backing == null) {
                    zeroWholeClusters(offset, length);
                }
                // v2 with a backing file: QEMU leaves everything as it was (measured).
            }
            case QCOW2_V3 -> zeroWholeClusters(offset, length);
        }
    }

    /** The whole clusters inside the range (the last one may end at the disk's end) read as zeros. */
    private void zeroWholeClusters(long offset, long length) {
        long end = offset + length;
        long first = ceilDiv(offset, clusterBytes) * clusterBytes;
        long last;
        if (end == sizeBytes) {
            last = end;
        } else {
            last = Math.floorDiv(end, clusterBytes) * (long) clusterBytes;
        }
        if (first < last) {
            writeZeroes(first, last - first);
        }
    }

    /**
     * Makes exactly the range read from the backing again (zeros without a backing): the
     * range's data is dropped from this layer.
     */
    public void deallocate(long offset, long length) {
        checkRange(offset, length);
        long end = offset + length;
        for (long at = offset; at < end; ) {
            long index = at / CHUNK_BYTES;
            int within = (int) (at % CHUNK_BYTES);
            int n = (int) Math.min(CHUNK_BYTES - within, end - at);
            if (n == CHUNK_BYTES) {
                chunks.remove(index);
            } else if (chunks.containsKey(index)) {
                byte[] chunk = writableChunk(index);
                long chunkStart = index * CHUNK_BYTES;
                byte[] below = readBelow(chunkStart + within, n);
                System.arraycopy(below, 0, chunk, within, n);
                normalize(index, chunk);
            }
            at += n;
        }
    }

    /**
     * Changes the virtual size: growing reads zeros in the new area (even over backing data),
     * shrinking forgets the data past the new end.
     */
    public void resize(long newSizeBytes) {
        if (newSizeBytes < 0) {
            throw new IllegalArgumentException("negative size " + newSizeBytes);
        }
        long oldSize = sizeBytes;
        if (newSizeBytes < oldSize) {
            for (Iterator<Map.Entry<Long, byte[]>> it = chunks.entrySet().iterator(); it.hasNext(); ) {
                Map.Entry<Long, byte[]> e = it.next();
                if (e.getKey() * CHUNK_BYTES >= newSizeBytes) {
                    it.remove();
                }
            }
            sizeBytes = newSizeBytes;
            // Keep the invariant "bytes past the end are zero" for a later grow.
            long tailIndex = newSizeBytes / CHUNK_BYTES;
            int within = (int) (newSizeBytes % CHUNK_BYTES);
            byte[] tail = chunks.get(tailIndex);
            if (within != 0 && tail != null && tail != ZERO_CHUNK) {
                Arrays.fill(tail, within, CHUNK_BYTES, (byte) 0);
                normalize(tailIndex, tail);
            }
        } else if (newSizeBytes > oldSize) {
            sizeBytes = newSizeBytes;
            long backingEnd = backing == null ? 0 : Math.min(backing.size(), newSizeBytes);
            // Zero the part of the new area the backing would show, and the rest of a
            // partly-inherited last chunk.
            long zeroEnd = Math.max(backingEnd, Math.min(newSizeBytes, ceilDiv(oldSize, CHUNK_BYTES) * CHUNK_BYTES));
            if (zeroEnd > oldSize) {
                writeZeroes(oldSize, zeroEnd - oldSize);
            }
        }
    }

    /** Reads {@code length} bytes at {@code offset}. */
    public byte[] read(long offset, int length) {
        checkRange(offset, length);
        if (length > MAX_READ_BYTES) {
            throw new IllegalArgumentException("read too large: " + length);
        }
        byte[] out = new byte[length];
        read(offset, ByteBuffer.wrap(out));
        return out;
    }

    /** Fills {@code dst} (its remaining bytes) from {@code offset}. */
    public void read(long offset, ByteBuffer dst) {
        checkRange(offset, dst.remaining());
        long at = offset;
        while (dst.hasRemaining()) {
            long index = at / CHUNK_BYTES;
            int within = (int) (at % CHUNK_BYTES);
            int n = Math.min(CHUNK_BYTES - within, dst.remaining());
            byte[] chunk = chunks.get(index);
            if (chunk != null) {
                dst.put(chunk, within, n);
            } else if (backing != null) {
                dst.put(readBelow(at, n));
            } else {
                dst.put(ZERO_CHUNK, 0, n);
            }
            at += n;
        }
    }

    /** A deep copy (same backing model, which is shared, not copied): a snapshot of this disk now. */
    public ReferenceDisk copy() {
        ReferenceDisk copy = new ReferenceDisk(sizeBytes, clusterBytes, discardRule, backing);
        for (Map.Entry<Long, byte[]> e : chunks.entrySet()) {
            byte[] chunk = e.getValue();
            copy.chunks.put(e.getKey(), chunk == ZERO_CHUNK ? ZERO_CHUNK : chunk.clone());
        }
        return copy;
    }

    /** A copy with the backing's data merged in and no backing (what {@code qemu-img convert} of the chain reads). */
    public ReferenceDisk flattened() {
        ReferenceDisk flat = new ReferenceDisk(sizeBytes, clusterBytes, discardRule, null);
        byte[] buffer = new byte[CHUNK_BYTES];
        for (long start = 0; start < sizeBytes; start += CHUNK_BYTES) {
            int n = (int) Math.min(CHUNK_BYTES, sizeBytes - start);
            if (!chunks.containsKey(start / CHUNK_BYTES) && backing == null) {
                continue;
            }
            ByteBuffer view = ByteBuffer.wrap(buffer, 0, n);
            read(start, view);
            if (!isZero(buffer, 0, n)) {
                flat.write(start, ByteBuffer.wrap(buffer, 0, n));
            }
        }
        return flat;
    }

    /**
     * Compares the whole disk with {@code reader}, in steps of 1 MiB.
     *
     * @return the first offset where they differ, or -1 when every byte is the same
     */
    public long firstDifference(Reader reader) throws IOException {
        byte[] expected = new byte[(int) Math.min(COMPARE_STEP_BYTES, Math.max(sizeBytes, 1))];
        byte[] actual = new byte[expected.length];
        for (long at = 0; at < sizeBytes; at += expected.length) {
            int n = (int) Math.min(expected.length, sizeBytes - at);
            read(at, ByteBuffer.wrap(expected, 0, n));
            Arrays.fill(actual, 0, n, (byte) 0x5a); // a reader that fills nothing must not pass as zeros
            reader.read(at, ByteBuffer.wrap(actual, 0, n));
            int mismatch = Arrays.mismatch(expected, 0, n, actual, 0, n);
            if (mismatch >= 0) {
                return at + mismatch;
            }
        }
        return -1;
    }

    /**
     * Writes what this disk reads to {@code file} as a raw image of exactly {@link #size()}
     * bytes; all-zero chunks are skipped, so the file is sparse. Replaces an existing file.
     */
    public void writeRawFile(Path file) throws IOException {
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            // Truncate, then extend without writing: everything not written below stays a hole.
            raf.setLength(0);
            raf.setLength(sizeBytes);
            FileChannel ch = raf.getChannel();
            byte[] buffer = new byte[CHUNK_BYTES];
            for (long start = 0; start < sizeBytes; start += CHUNK_BYTES) {
                int n = (int) Math.min(CHUNK_BYTES, sizeBytes - start);
                if (!chunks.containsKey(start / CHUNK_BYTES) && backing == null) {
                    continue;
                }
                read(start, ByteBuffer.wrap(buffer, 0, n));
                if (isZero(buffer, 0, n)) {
                    continue;
                }
                ByteBuffer src = ByteBuffer.wrap(buffer, 0, n);
                long pos = start;
                while (src.hasRemaining()) {
                    pos += ch.write(src, pos);
                }
            }
        }
    }

    /** Bytes stored by this layer (not counting the backing): for tests of sparseness. */
    long storedChunkCount() {
        return chunks.size();
    }

    private byte[] writableChunk(long index) {
        byte[] chunk = chunks.get(index);
        if (chunk != null && chunk != ZERO_CHUNK) {
            return chunk;
        }
        byte[] fresh;
        if (chunk == null && backing != null) {
            // Copy on write: the bytes of this chunk not overwritten keep reading the backing's data.
            fresh = readBelow(index * CHUNK_BYTES, CHUNK_BYTES);
            long end = Math.min(sizeBytes - index * CHUNK_BYTES, CHUNK_BYTES);
            if (end < CHUNK_BYTES) {
                Arrays.fill(fresh, (int) Math.max(end, 0), CHUNK_BYTES, (byte) 0);
            }
        } else {
            fresh = new byte[CHUNK_BYTES];
        }
        chunks.put(index, fresh);
        return fresh;
    }

    /** Bytes the backing shows at [offset, offset+length): zeros past its end or without one. */
    private byte[] readBelow(long offset, int length) {
        byte[] out = new byte[length];
        if (backing == null || offset >= backing.size()) {
            return out;
        }
        int n = (int) Math.min(length, backing.size() - offset);
        backing.read(offset, ByteBuffer.wrap(out, 0, n));
        return out;
    }

    private void setZero(long index) {
        if (backing == null) {
            chunks.remove(index);
        } else {
            chunks.put(index, ZERO_CHUNK);
        }
    }

    /** Keeps all-zero chunks cheap: dropped without a backing, the shared marker with one. */
    private void normalize(long index, byte[] chunk) {
        if (chunk != ZERO_CHUNK && isZero(chunk, 0, CHUNK_BYTES)) {
            setZero(index);
        }
    }

    private static boolean isZero(byte[] data, int from, int length) {
        return Arrays.mismatch(data, from, from + length, ZERO_CHUNK, 0, length) < 0;
    }

    private void checkRange(long offset, long length) {
        if (offset < 0 || length < 0 || offset > sizeBytes || length > sizeBytes - offset) {
            throw new IllegalArgumentException("range offset=" + offset + " length=" + length
                    + " outside the disk of " + sizeBytes + " bytes");
        }
    }

    private static long ceilDiv(long value, long divisor) {
        return Math.ceilDiv(value, divisor);
    }
}
