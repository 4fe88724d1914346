package org.vmsnap.qcow2;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.vmsnap.qcow2.io.ZeroScan;

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

    /** qemu-img's limit for {@code convert -m}. */
    public static final int MAX_THREADS = 16;

    /** Writes in flight by default (see ImageCommit.DEFAULT_THREADS for why not qemu-img's 8). */
    public static final int DEFAULT_THREADS = 4;

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
    public record CopyOptions(boolean topLayerOnly, boolean targetIsZeroed, boolean compress, int threads) {

        public CopyOptions {
            if (threads < 1 || threads > MAX_THREADS) {
                throw new IllegalArgumentException("threads must be 1.." + MAX_THREADS + ": " + threads);
            }
        }

        public CopyOptions(boolean topLayerOnly, boolean targetIsZeroed, boolean compress) {
            this(topLayerOnly, targetIsZeroed, compress, DEFAULT_THREADS);
        }

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
            return new CopyOptions(topLayerOnly, false, compress, threads);
        }

        /** Data clusters are written compressed ({@code convert -c}); the target must be qcow2. */
        public CopyOptions withCompression() {
            return new CopyOptions(topLayerOnly, targetIsZeroed, true, threads);
        }

        /**
         * Up to {@code n} writes (or compressions) in flight at once ({@code convert -m}, 1..16).
         * 1: each write ends before the next read starts, as before.
         */
        public CopyOptions withThreads(int n) {
            return new CopyOptions(topLayerOnly, targetIsZeroed, compress, n);
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
        int grain = target instanceof Qcow2Image q ? q.clusterSize()
                : target instanceof RawImage ? SPARSE_BLOCK_BYTES : 0;
        if (!options.mustWriteZeros() && grain > 0 && BUFFER_BYTES % grain == 0) {
            copyToZeroed(source, target, grain, options, progress);
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
     * Into a target that reads zeros everywhere (a new image without backing file): what the
     * source holds is read in windows aligned to {@code cluster} (the qcow2 target's clusters, or
     * the {@value #SPARSE_BLOCK_BYTES}-byte blocks of {@code -S 4k} for raw), and each such block
     * holding any nonzero byte is written whole, all-zero blocks left out (holes in raw,
     * unallocated clusters in qcow2). A qcow2 cluster the guest wrote 4 KiB of (QEMU leaves the
     * rest a hole in the file) becomes one aligned write instead of a copy-on-write of a partial
     * cluster; the target reads the same either way and allocates the same clusters. The writes
     * end on the target's write threads ({@link CopyOptions#threads}) while the next window is read.
     */
    private static void copyToZeroed(BlockDevice source, BlockDevice target, int cluster, CopyOptions options,
                                     Progress progress) throws IOException {
        long size = source.size();
        int window = (int) Math.min(BUFFER_BYTES, Math.max(size, 1));
        BufferPool pool = new BufferPool(options.threads() + 1, window);
        target.useParallelWrites(options.threads());
        try {
            progress.update(0, size);
            long done = 0; // everything below was read and written (or left out as zeros)
            long offset = 0;
            while (offset < size) {
                BlockStatus status = source.blockStatus(offset, size - offset);
                long end = Math.min(offset + status.lengthBytes(), size);
                if (!status.zero()) {
                    long from = Math.max(done, offset - offset % cluster);
                    long to = Math.min(size, Math.ceilDiv(end, cluster) * cluster);
                    for (long p = from; p < to; ) {
                        int chunk = (int) Math.min(window, to - p);
                        copyClusters(source, target, p, chunk, cluster, pool);
                        p += chunk;
                        progress.update(Math.min(p, size), size);
                    }
                    done = Math.max(done, to);
                }
                offset = end;
                progress.update(Math.max(offset, done), size);
            }
            target.flush();
        } finally {
            target.useParallelWrites(1);
        }
    }

    /** Reads {@code [pos, pos+length)} and queues its nonzero clusters, contiguous ones as one write. */
    private static void copyClusters(BlockDevice source, BlockDevice target, long pos, int length, int cluster,
                                     BufferPool pool) throws IOException {
        BufferPool.Held held = pool.hold(pool.take());
        try {
            ByteBuffer buffer = held.buffer();
            buffer.limit(length);
            source.read(pos, buffer);
            MemorySegment whole = ZeroScan.whole(buffer); // one view per window
            int runStart = -1;
            for (int i = 0; i < length; i += cluster) {
                boolean data = !ZeroScan.isZero(buffer, whole, i, Math.min(length, i + cluster));
                if (data && runStart < 0) {
                    runStart = i;
                } else if (!data && runStart >= 0) {
                    target.writeQueued(pos + runStart, buffer.slice(runStart, i - runStart), held.share());
                    runStart = -1;
                }
            }
            if (runStart >= 0) {
                target.writeQueued(pos + runStart, buffer.slice(runStart, length - runStart), held.share());
            }
        } finally {
            held.done();
        }
    }

    /**
     * {@code convert -c}: cluster by cluster, every cluster holding data is written
     * compressed (the last, partial cluster padded with zeros as qemu-img does); all-zero
     * clusters are left out, or written as zeros when the target does not read zeros.
     * Compressing is nearly all of the work: clusters are read and written on this thread, in disk
     * order (the target's layout is the same as with one thread), and compressed on
     * {@link CopyOptions#threads} threads in between, as qemu-img's {@code -m} coroutines hand
     * theirs to its thread pool.
     */
    private static void copyCompressed(BlockDevice source, Qcow2Image target, CopyOptions options, Progress progress)
            throws IOException {
        long size = source.size();
        int cluster = target.clusterSize();
        int threads = options.threads();
        ExecutorService pool = threads == 1 ? null
                : Executors.newFixedThreadPool(threads, Thread.ofPlatform().name("vmsnap-compress-", 0).daemon().factory());
        ArrayDeque<Pending> inFlight = new ArrayDeque<>();
        ArrayDeque<Pending> spare = new ArrayDeque<>();
        progress.update(0, size);
        try {
            for (long offset = 0; offset < size; ) {
                int length = (int) Math.min(cluster, size - offset);
                if (options.topLayerOnly()) {
                    if (!touchesTopLayer(source, offset, length)) {
                        offset += cluster;
                        continue; // the target's backing file supplies the whole cluster
                    }
                } else {
                    // Whole clusters that read as zeros (unallocated in every layer, say: most of a
                    // sparse disk) are neither read nor scanned.
                    BlockStatus st = source.blockStatus(offset, size - offset);
                    long runEnd = Math.min(size, offset + st.lengthBytes());
                    if (st.zero() && runEnd >= offset + length) {
                        long zeroEnd = runEnd == size ? size : offset + (runEnd - offset) / cluster * cluster;
                        Pending z = new Pending(null);
                        z.offset = offset;
                        z.length = zeroEnd - offset;
                        z.zero = true;
                        inFlight.add(z);
                        offset = zeroEnd;
                        continue;
                    }
                }
                Pending c = spare.isEmpty() ? new Pending(new byte[cluster]) : spare.poll();
                java.util.Arrays.fill(c.data, (byte) 0);
                source.read(offset, ByteBuffer.wrap(c.data, 0, length));
                c.offset = offset;
                c.length = length;
                c.zero = ZeroScan.isZero(ByteBuffer.wrap(c.data), 0, cluster);
                c.compressedLength = null;
                if (!c.zero) {
                    c.compressedLength = pool == null ? CompletableFuture.completedFuture(target.compressCluster(c.data, c.out))
                            : pool.submit(() -> target.compressCluster(c.data, c.out));
                }
                inFlight.add(c);
                while (inFlight.size() > 2 * threads - 1) {
                    finish(inFlight.poll(), target, options, progress, size, spare);
                }
                offset += cluster;
            }
            while (!inFlight.isEmpty()) {
                finish(inFlight.poll(), target, options, progress, size, spare);
            }
        } finally {
            if (pool != null) {
                pool.shutdownNow();
            }
        }
        target.alignFileEndToSector(); // qemu-img's file, to the last byte
        target.flush();
    }

    /** A cluster of {@link #copyCompressed} on its way (read, being compressed, written), or a span of zeros. */
    private static final class Pending {
        /** The cluster's bytes, or null for a span of zeros. */
        final byte[] data;
        final byte[] out;
        long offset;
        long length;
        boolean zero;
        Future<Integer> compressedLength;

        Pending(byte[] data) {
            this.data = data;
            this.out = data == null ? null : new byte[data.length - 1];
        }
    }

    /** Writes {@code c} (after its compression ended); its buffers go back to {@code spare}. */
    private static void finish(Pending c, Qcow2Image target, CopyOptions options, Progress progress, long size,
                               ArrayDeque<Pending> spare) throws IOException {
        if (c.zero) {
            if (options.mustWriteZeros()) {
                target.writeZeroes(c.offset, c.length);
            }
        } else {
            int len;
            try {
                len = c.compressedLength.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("interrupted while compressing " + target.path());
            } catch (ExecutionException e) {
                if (e.getCause() instanceof IOException io) {
                    throw io;
                }
                if (e.getCause() instanceof RuntimeException re) {
                    throw re;
                }
                throw new IOException(e.getCause());
            }
            target.writeCompressed(c.offset, c.data, c.out, len);
        }
        progress.update(c.offset + c.length, size);
        if (c.data != null) {
            spare.add(c);
        }
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
        MemorySegment whole = ZeroScan.whole(buffer); // one view for all the blocks
        while (pos < length) {
            // The block ends at the next multiple of SPARSE_BLOCK_BYTES in guest offsets.
            long guest = guestOffset + pos;
            int blockEnd = (int) Math.min(length, pos + (SPARSE_BLOCK_BYTES - guest % SPARSE_BLOCK_BYTES));
            boolean isData = !ZeroScan.isZero(buffer, whole, pos, blockEnd);
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
