package org.vmsnap.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code qemu-img commit}: writes what an overlay holds down into its backing file, or
 * into a base further down the chain, then empties the overlay.
 *
 * <p>What moves: every run that a layer above the base decides (the overlay, and the
 * images between it and the base). Data is copied; runs that read as zeros (zero clusters,
 * or the zeros past the end of a short layer) become zeros in the base, and are not
 * written where the base already reads zeros; runs the base or its own backing files
 * decide are not touched. The base grows to the overlay's size when it is smaller, as
 * qemu-img does.
 *
 * <p>After a commit into a base below the backing file, the images in between no longer
 * show what they showed (the base under them changed), as qemu-img says; the overlay
 * still reads the same, so it is never emptied then ({@code -b} implies {@code -d}).
 *
 * <p>Crash safety, in this order: (1) the data is written into the base and the base is
 * flushed; (2) only then are the overlay's clusters made unallocated (they now read the
 * same bytes from the base) and the overlay flushed. A crash during (1) leaves the overlay
 * untouched and reading as before; running the commit again writes the same data again
 * (a commit is idempotent). A crash during (2) leaves some clusters still in the overlay
 * and some read from the base, which holds the same bytes.
 */
public final class ImageCommit {

    /** Bytes moved per read/write. */
    static final int BUFFER_BYTES = 4 << 20;

    /**
     * What a commit did.
     *
     * @param base      the image that received the data (as resolved from the chain)
     * @param baseDepth 1 for the backing file, 2 for its backing file...
     * @param emptied   the overlay was emptied afterwards
     */
    public record Result(Path base, int baseDepth, boolean emptied) {
    }

    private ImageCommit() {
    }

    /**
     * Commits {@code image} into its backing file or into {@code base}.
     *
     * @param format the overlay's format, or null to probe it
     * @param base   the member to commit into, named as for {@code qemu-img commit -b}
     *               (a relative name is resolved against each member's folder), or null
     *               for the backing file
     * @param drop   keep the overlay's data ({@code -d}); always so with a base
     * @throws BackingChainException when the image has no backing file or {@code base} is
     *                               not in its chain; nothing is changed then
     * @throws ImageInUseException   when the overlay or the base is locked by another process
     */
    public static Result commit(Path image, String format, String base, boolean drop, Progress progress)
            throws IOException {
        return commit(image, format, base, drop, progress, CacheMode.WRITEBACK);
    }

    /** As {@link #commit(Path, String, String, boolean, Progress)}, writing both files with {@code cache}. */
    public static Result commit(Path image, String format, String base, boolean drop, Progress progress,
                                CacheMode cache) throws IOException {
        return commit(image, format, base, drop, progress, cache, DEFAULT_THREADS);
    }

    /** As above, with up to {@code threads} writes into the base in flight at once. */
    static Result commit(Path image, String format, String base, boolean drop, Progress progress,
                         CacheMode cache, int threads) throws IOException {
        List<ImageChain.Member> chain = ImageChain.describe(image, new OpenOptions(true, true, false, format));
        if (!"qcow2".equals(chain.getFirst().info().format()) || chain.size() < 2) {
            throw new BackingChainException(image, "Image does not have a backing file");
        }
        int depth = base == null ? 1 : ImageChain.depthOf(chain, base);
        if (depth < 0) {
            throw new BackingChainException(image, "Did not find '" + base + "' in the backing chain of '"
                    + image + "'");
        }
        Path target = chain.get(depth).realPath();
        boolean empty = !drop && base == null;
        try (Qcow2Image top = Qcow2Image.openWithWritableMember(image, target)) {
            ChainView below = (ChainView) top.backing();
            if (below == null || below.layers().size() != depth
                    || !below.layers().getLast().path().toRealPath().equals(target)) {
                throw new BackingChainException(image, "the backing chain changed while it was being opened");
            }
            BlockDevice into = below.layers().getLast();
            top.useCacheMode(cache);
            into.useCacheMode(cache);
            try (ImageWriteback w = ImageWriteback.forCacheMode(cache, into.path())) {
                commitOpened(top, into, depth, empty, progress, threads);
            }
            return new Result(into.path(), depth, empty);
        }
    }

    /**
     * The commit itself, on an open chain: {@code base} is the writable member at
     * {@code depth} below {@code top}; {@code empty} empties the overlay afterwards.
     */
    static void commitOpened(Qcow2Image top, BlockDevice base, int depth, boolean empty, Progress progress)
            throws IOException {
        commitOpened(top, base, depth, empty, progress, DEFAULT_THREADS);
    }

    /** As above, with up to {@code threads} writes into the base in flight at once. */
    static void commitOpened(Qcow2Image top, BlockDevice base, int depth, boolean empty, Progress progress,
                             int threads) throws IOException {
        // One walk over the overlay's status: the same runs set the space aside and are copied
        // (the layers above the base do not change while the commit holds them open).
        List<long[]> data = new ArrayList<>();
        List<long[]> zeros = new ArrayList<>();
        runsAbove(top, depth, data, zeros);
        try (Qcow2Image.Reservation space = reserve(top, base, data, zeros)) {
            base.useParallelWrites(threads);
            copyAbove(top, base, data, zeros, progress, threads);
            // (1) before (2): the base holds the data durably before the overlay lets go of it.
            base.flush();
        } finally {
            base.useParallelWrites(1);
        }
        if (empty) {
            top.deallocate(0, top.size());
            top.flush();
        }
    }

    /**
     * Writes in flight at once by default. Buffered writes into one file serialize on its inode
     * in the kernel, so more threads mostly overlap the writes with the next read (1, 2 and 8
     * measured alike within the noise of a loaded 2-core machine); 4 keeps 5 buffers in memory.
     */
    static final int DEFAULT_THREADS = 4;

    /**
     * The runs that a layer above {@code depth} decides, in disk order: data runs (to copy) into
     * {@code data}, zero runs (zero clusters, or zeros past the end of a short layer) into
     * {@code zeros}, as guest {offset, length} pairs.
     */
    private static void runsAbove(Qcow2Image top, int depth, List<long[]> data, List<long[]> zeros)
            throws IOException {
        long size = top.size();
        for (long pos = 0; pos < size; ) {
            BlockStatus s = top.blockStatus(pos, size - pos);
            long n = s.lengthBytes();
            if (s.depth() < depth) {
                // A hole of the file inside an allocated data cluster (zero and data: QEMU's
                // view of a partly written cluster) moves as data, as qemu-img's commit copies
                // what is allocated: whole clusters, one aligned write each, where zero pieces
                // would cost a copy-on-write per cluster.
                List<long[]> into = s.present() && (!s.zero() || s.data()) ? data : zeros;
                long[] last = into.isEmpty() ? null : into.getLast();
                if (last != null && last[0] + last[1] == pos) {
                    last[1] += n; // adjacent runs of one kind (from different layers) move as one
                } else {
                    into.add(new long[] {pos, n});
                }
            }
            pos += n;
        }
    }

    /**
     * Sets aside the disk space the copy into a qcow2 base can take, so that a full disk fails
     * the commit before the base changed: the base then reads as before or, once the commit
     * ran, as after, never half-committed (other overlays on it see one or the other).
     */
    private static Qcow2Image.Reservation reserve(Qcow2Image top, BlockDevice base, List<long[]> data,
                                                  List<long[]> zeros) throws IOException {
        if (!(base instanceof Qcow2Image q)) {
            return () -> { };
        }
        long size = top.size();
        List<long[]> z = zeros;
        if (q.size() < size) {
            z = new ArrayList<>(zeros);
            z.add(new long[] {q.size(), size - q.size()}); // grow() may zero the new area
        }
        return q.reserveForWrites(data, z, Math.max(size, q.size()));
    }

    /**
     * Copies the data runs into {@code base} and makes the zero runs read as zeros there, in disk
     * order. Reads happen here; the writes end on the base's write threads while the next
     * buffer is read (each buffer goes back to the pool when its write ended).
     */
    private static void copyAbove(Qcow2Image top, BlockDevice base, List<long[]> data, List<long[]> zeros,
                                  Progress progress, int threads) throws IOException {
        long size = top.size();
        if (base.size() < size) {
            // The chain view keeps the old size, so the overlay still reads what it read.
            grow(base, size);
        }
        BufferPool pool = new BufferPool(Math.max(1, threads) + 1, (int) Math.min(BUFFER_BYTES, Math.max(size, 1)));
        progress.update(0, size);
        int d = 0;
        int z = 0;
        while (d < data.size() || z < zeros.size()) {
            boolean dataNext = z >= zeros.size() || (d < data.size() && data.get(d)[0] < zeros.get(z)[0]);
            long[] run = dataNext ? data.get(d++) : zeros.get(z++);
            if (dataNext) {
                copyData(top, base, run[0], run[1], pool);
            } else {
                zero(base, run[0], run[1]);
            }
            progress.update(run[0] + run[1], size);
        }
        progress.update(size, size);
    }

    private static void copyData(BlockDevice from, BlockDevice to, long pos, long length, BufferPool pool)
            throws IOException {
        long end = pos + length;
        for (long p = pos; p < end; ) {
            int chunk = (int) Math.min(pool.bufferBytes(), end - p);
            ByteBuffer buffer = pool.take();
            try {
                buffer.limit(chunk);
                from.read(p, buffer);
                buffer.flip();
            } catch (IOException | RuntimeException e) {
                pool.give(buffer);
                throw e;
            }
            to.writeQueued(p, buffer, () -> pool.give(buffer));
            p += chunk;
        }
    }

    /**
     * Makes the range read as zeros in the base. Ranges where the base itself already reads
     * zeros (a zero cluster, a hole, past its backing file's end) are left alone; zeros that
     * come from the base's own backing file are written, so the base holds them as the
     * overlay did.
     */
    private static void zero(BlockDevice base, long pos, long length) throws IOException {
        long end = pos + length;
        for (long p = pos; p < end; ) {
            BlockStatus s = base.blockStatus(p, end - p);
            long n = Math.min(s.lengthBytes(), end - p);
            if (!s.zero() || s.depth() > 0) {
                base.writeZeroes(p, n);
            }
            p += n;
        }
    }

    /**
     * Grows the base to the overlay's size. When the base's own backing file reaches past its
     * old end, the whole new area becomes zero clusters, as QEMU's truncate does then (the
     * engine's resize zeroes only as far as the backing file reaches; past it, unallocated
     * reads zeros too, but qemu-img map would show the difference).
     */
    private static void grow(BlockDevice base, long size) throws IOException {
        switch (base) {
            case Qcow2Image q -> {
                long oldSize = q.size();
                q.resize(size);
                if (q.backing() != null && q.backing().size() > oldSize) {
                    q.writeZeroes(oldSize, size - oldSize);
                }
            }
            case RawImage r -> r.resize(size);
            default -> throw new UnsupportedFeatureException(base.path(), "cannot grow a " + base.format()
                    + " image to " + size + " bytes");
        }
    }
}
