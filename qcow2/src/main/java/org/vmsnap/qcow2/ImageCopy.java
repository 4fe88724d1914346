package org.vmsnap.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * The data path of {@code qemu-img convert}: copies what a source disk reads into a target
 * disk of at least the same size, keeping the target sparse.
 *
 * <p>Runs that read as zeros are never written to a target that already reads zeros there
 * (a new image without a backing file): they stay holes in a raw file and unallocated
 * clusters in a qcow2 file. Data runs are read and scanned in {@value #SPARSE_BLOCK_BYTES}-byte
 * blocks aligned to guest offsets, as qemu-img's default {@code -S 4k} does; an all-zero
 * block is treated like a zero run.
 */
public final class ImageCopy {

    /** Smallest zero block left out of the target (qemu-img convert's default -S). */
    public static final int SPARSE_BLOCK_BYTES = 4096;

    /** Bytes read from the source at a time. */
    static final int BUFFER_BYTES = 2 << 20;

    private ImageCopy() {
    }

    /**
     * What to copy and what the target holds before the copy.
     *
     * @param topLayerOnly    copy only what the source's own file decides (depth 0); the
     *                        rest is left to the target's backing file ({@code convert -B}).
     *                        Zeros of the top layer are written as zeros, since the target's
     *                        backing file would show through otherwise.
     * @param targetIsZeroed  the target reads zeros everywhere before the copy (a new
     *                        image without backing file), so zero runs need no write
     */
    public record CopyOptions(boolean topLayerOnly, boolean targetIsZeroed, boolean compress) {

        /** Everything the source reads, through its whole backing chain, into a new image. */
        public static CopyOptions wholeChainToNewImage() {
            return new CopyOptions(false, true, false);
        }

        /** Only the source's top layer, into a new image that has its own backing file. */
        public static CopyOptions topLayerOntoBackedImage() {
            return new CopyOptions(true, false, false);
        }

        /** Zero runs must be written as zeros because the target holds old data. */
        public CopyOptions withTargetNotZeroed() {
            return new CopyOptions(topLayerOnly, false, compress);
        }

        /** Data clusters are written compressed ({@code convert -c}); the target must be qcow2. */
        public CopyOptions withCompression() {
            return new CopyOptions(topLayerOnly, targetIsZeroed, true);
        }

        boolean mustWriteZeros() {
            return topLayerOnly || !targetIsZeroed;
        }
    }

    /**
     * Copies {@code source} into {@code target}. The target is flushed at the end.
     *
     * @throws IllegalArgumentException when the target is smaller than the source
     */
    public static void copy(BlockDevice source, BlockDevice target, CopyOptions options, Progress progress)
            throws IOException {
        long size = source.size();
        if (target.size() < size) {
            throw new IllegalArgumentException(target.path() + ": target size " + target.size()
                    + " is smaller than the source " + source.path() + " (" + size + ")");
        }
        if (options.compress()) {
            if (!(target instanceof Qcow2Image qcow2)) {
                throw new IllegalArgumentException(target.path() + ": compression needs a qcow2 target");
            }
            copyCompressed(source, qcow2, options, progress);
            return;
        }
        // Direct: file reads and writes then need no copy through a temporary native buffer.
        ByteBuffer buffer = ByteBuffer.allocateDirect((int) Math.min(BUFFER_BYTES, Math.max(size, 1)));
        progress.update(0, size);
        long offset = 0;
        while (offset < size) {
            BlockStatus status = source.blockStatus(offset, size - offset);
            long length = Math.min(status.lengthBytes(), size - offset);
            if (options.topLayerOnly() && (status.depth() > 0 || !status.present())) {
                // Left unallocated: the target's backing file supplies it (also the zeros past
                // the end of a short backing file, which the target's backing file has too).
                offset += length;
            } else if (status.zero()) {
                if (options.mustWriteZeros()) {
                    target.writeZeroes(offset, length);
                }
                offset += length;
            } else {
                long end = offset + length;
                while (offset < end) {
                    int chunk = (int) Math.min(buffer.capacity(), end - offset);
                    buffer.clear().limit(chunk);
                    source.read(offset, buffer);
                    writeSparse(target, offset, buffer, chunk, options);
                    offset += chunk;
                    progress.update(offset, size);
                }
            }
            progress.update(offset, size);
        }
        target.flush();
    }

    /**
     * {@code convert -c}: cluster by cluster, every cluster holding data is written
     * compressed (the last, partial cluster padded with zeros as qemu-img does); all-zero
     * clusters are left out, or written as zeros when the target does not read zeros.
     */
    private static void copyCompressed(BlockDevice source, Qcow2Image target, CopyOptions options, Progress progress)
            throws IOException {
        long size = source.size();
        int cluster = target.clusterSize();
        byte[] buf = new byte[cluster];
        progress.update(0, size);
        for (long offset = 0; offset < size; offset += cluster) {
            int length = (int) Math.min(cluster, size - offset);
            if (options.topLayerOnly() && !touchesTopLayer(source, offset, length)) {
                continue; // the target's backing file supplies the whole cluster
            }
            java.util.Arrays.fill(buf, (byte) 0);
            source.read(offset, ByteBuffer.wrap(buf, 0, length));
            if (ZeroScan.isZero(ByteBuffer.wrap(buf), 0, cluster)) {
                if (options.mustWriteZeros()) {
                    target.writeZeroes(offset, length);
                }
            } else {
                target.writeCompressed(offset, buf);
            }
            progress.update(offset + length, size);
        }
        target.flush();
    }

    private static boolean touchesTopLayer(BlockDevice source, long offset, int length) throws IOException {
        for (long pos = offset; pos < offset + length; ) {
            BlockStatus s = source.blockStatus(pos, offset + length - pos);
            if (s.depth() == 0 && s.present()) {
                return true;
            }
            pos += s.lengthBytes();
        }
        return false;
    }

    /**
     * Writes {@code buffer[0, length)} to {@code guestOffset}, leaving out the aligned
     * blocks that are all zeros; consecutive blocks of one kind go in one call.
     */
    private static void writeSparse(BlockDevice target, long guestOffset, ByteBuffer buffer, int length,
                                    CopyOptions options) throws IOException {
        int runStart = 0;
        boolean runIsData = false;
        int pos = 0;
        while (pos < length) {
            // The block ends at the next multiple of SPARSE_BLOCK_BYTES in guest offsets.
            long guest = guestOffset + pos;
            int blockEnd = (int) Math.min(length, pos + (SPARSE_BLOCK_BYTES - guest % SPARSE_BLOCK_BYTES));
            boolean isData = !ZeroScan.isZero(buffer, pos, blockEnd);
            if (pos == 0) {
                runIsData = isData;
            } else if (isData != runIsData) {
                flushRun(target, guestOffset, buffer, runStart, pos, runIsData, options);
                runStart = pos;
                runIsData = isData;
            }
            pos = blockEnd;
        }
        if (length > 0) {
            flushRun(target, guestOffset, buffer, runStart, length, runIsData, options);
        }
    }

    private static void flushRun(BlockDevice target, long guestOffset, ByteBuffer buffer, int from, int to,
                                 boolean isData, CopyOptions options) throws IOException {
        if (isData) {
            target.write(guestOffset + from, buffer.slice(from, to - from));
        } else if (options.mustWriteZeros()) {
            target.writeZeroes(guestOffset + from, to - from);
        }
    }
}
