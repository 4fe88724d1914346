package org.vmsnap.qcow2;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.vmsnap.qcow2.io.ZeroScan;

/**
 * {@code qemu-img rebase}: gives an image another backing file.
 *
 * <p>Safe mode keeps what the guest sees: wherever the image's own clusters are
 * unallocated and the old backing chain reads differently from the new one, the old
 * chain's bytes are copied into the image (zeros as zero clusters). Ranges where both
 * chains read zeros, or where both reach the same cluster of the same file, are skipped
 * without reading them; others are read from both chains and compared cluster by cluster,
 * so only clusters that differ move. A new backing file smaller than the image reads as
 * zeros past its end, so whatever the old chain had there is copied. An empty new name
 * flattens the image (everything the old chain showed is copied in).
 *
 * <p>Unsafe mode ({@code -u}) only rewrites the name and format in the header.
 *
 * <p>Crash safety, in this order: (1) the copied clusters are written and flushed while
 * the header still names the old backing file (they hold exactly what the old chain
 * showed, so the guest view does not change); (2) the header is rewritten to name the new
 * backing file and synced. A crash before (2) leaves the image on its old chain with some
 * redundant clusters; after (2) the image reads the same through the new chain.
 */
public final class ImageRebase {

    /** Bytes compared per step. */
    static final int BUFFER_BYTES = 2 << 20;

    private ImageRebase() {
    }

    /**
     * Rebases {@code image} onto {@code newBacking}.
     *
     * @param format           the image's format, or null to probe it
     * @param newBacking       the new backing name as it will be stored (relative names are
     *                         relative to the image's folder); null or empty for none
     * @param newBackingFormat its format ("qcow2" or "raw"); required with a name
     * @param unsafe           only rewrite the header ({@code -u})
     */
    public static void rebase(Path image, String format, String newBacking, String newBackingFormat, boolean unsafe,
                              Progress progress) throws IOException {
        rebase(image, format, newBacking, newBackingFormat, unsafe, progress, CacheMode.WRITEBACK);
    }

    /** As {@link #rebase(Path, String, String, String, boolean, Progress)}, writing the image with {@code cache}. */
    public static void rebase(Path image, String format, String newBacking, String newBackingFormat, boolean unsafe,
                              Progress progress, CacheMode cache) throws IOException {
        String name = newBacking == null || newBacking.isEmpty() ? null : newBacking;
        String fmt = format != null ? format : Images.probeFormat(image);
        if (!fmt.equals("qcow2")) {
            throw new UnsupportedFeatureException(image, "Could not change the backing file to '"
                    + (name == null ? "" : name) + "': Operation not supported");
        }
        if (name != null) {
            BackingChain.checkName(image, name);
            if (newBackingFormat == null) {
                throw new BackingChainException(image, "Could not change the backing file to '" + name
                        + "': backing format must be specified");
            }
            BackingChain.checkFormat(image, name, newBackingFormat);
        }
        if (unsafe) {
            try (Qcow2Image img = Qcow2Image.open(image, OpenOptions.readWrite().withFormat("qcow2")
                    .withOpenBacking(false))) {
                img.useCacheMode(cache);
                img.setBacking(name, name == null ? null : newBackingFormat);
            }
            return;
        }
        BlockDevice newChain = name == null ? null : openNewBacking(image, name, newBackingFormat);
        // The image reads through the new chain from here on (its header still names the old
        // one); the old chain is opened beside it to read what the guest saw.
        try (Qcow2Image img = Qcow2Image.openOver(image, newChain);
             BlockDevice oldChain = openOldChain(image, img)) {
            img.useCacheMode(cache);
            try (ImageWriteback w = ImageWriteback.forCacheMode(cache, img.path())) {
                rebaseOpened(img, oldChain, name, newBackingFormat, progress);
            }
        }
    }

    /** The chain the header names now, read-only, or null when there is none. */
    private static BlockDevice openOldChain(Path image, Qcow2Image img) throws IOException {
        Set<Path> seen = new HashSet<>();
        seen.add(image.toRealPath());
        return BackingChain.open(image, img.header(), OpenOptions.readOnlyOpen(), 0, seen, null);
    }

    /**
     * The safe rebase on open devices: {@code img} is opened over its new backing chain,
     * {@code oldChain} is the chain its header names now (null for none); {@code name} and
     * {@code format} are what the header will record.
     */
    static void rebaseOpened(Qcow2Image img, BlockDevice oldChain, String name, String format, Progress progress)
            throws IOException {
        img.useParallelWrites(ImageCommit.DEFAULT_THREADS);
        try {
            copyDifferences(img, oldChain, progress);
        } finally {
            img.useParallelWrites(1); // waits for the writes in flight
        }
        // (1) before (2): setBacking flushes the copied clusters before it writes the header.
        img.setBacking(name, name == null ? null : format);
    }

    /** Opens the new backing chain read-only, refusing one that contains the image itself. */
    private static BlockDevice openNewBacking(Path image, String name, String format) throws IOException {
        Path resolved = BackingChain.resolve(image, name);
        Path self = image.toRealPath();
        List<ImageChain.Member> chain;
        try {
            chain = ImageChain.describe(resolved, new OpenOptions(true, true, false, format));
        } catch (java.nio.file.NoSuchFileException e) {
            throw new BackingChainException(image, "Could not open new backing file '" + name + "': "
                    + resolved + " not found");
        }
        for (ImageChain.Member m : chain) {
            if (m.realPath().equals(self)) {
                throw new BackingChainException(image, "Backing file '" + name
                        + "' creates an infinite loop (its chain contains the image itself)");
            }
        }
        try {
            return Images.open(resolved, new OpenOptions(true, false, true, format));
        } catch (ImageInUseException | BackingChainException e) {
            throw e;
        } catch (ImageException e) {
            throw new BackingChainException(image, "Could not open new backing file '" + name + "': "
                    + e.getMessage(), e);
        }
    }

    /**
     * Copies into {@code img} the old chain's bytes wherever the image's own clusters are
     * unallocated and the old and new chains read differently. {@code img} reads through the
     * new chain; {@code oldChain} null reads zeros everywhere.
     */
    private static void copyDifferences(Qcow2Image img, BlockDevice oldChain, Progress progress) throws IOException {
        long size = img.size();
        int cluster = img.clusterSize();
        int bufferBytes = Math.max(BUFFER_BYTES - BUFFER_BYTES % cluster, cluster);
        ClusterCopier copier = new ClusterCopier(img, oldChain, bufferBytes, ImageCommit.DEFAULT_THREADS);
        SameFile sameFile = new SameFile();
        progress.update(0, size);
        long pos = 0;
        while (pos < size) {
            // Where the image is unallocated this is the new chain's status (zeros without one).
            BlockStatus fresh = img.blockStatus(pos, Math.min(size - pos, bufferBytes));
            long end = pos + fresh.lengthBytes();
            if (fresh.depth() == 0 && fresh.present()) {
                pos = end; // the image's own cluster: the backing file does not matter here
                progress.update(pos, size);
                continue;
            }
            BlockStatus old = statusOf(oldChain, pos, end - pos);
            end = pos + Math.min(end - pos, old.lengthBytes());
            boolean oldZero = old.zero() || !old.present();
            boolean newZero = fresh.zero() || !fresh.present();
            boolean same = (oldZero && newZero)
                    || (old.present() && fresh.present() && old.data() == fresh.data()
                        && sameFile.test(old.file(), fresh.file()));
            if (!same) {
                copier.copyChangedClusters(pos, end, oldZero, newZero);
            }
            pos = end;
            progress.update(pos, size);
        }
    }

    /** A chain's status; past its end (or without one) the range reads zeros. */
    private static BlockStatus statusOf(BlockDevice chain, long pos, long length) throws IOException {
        if (chain == null || pos >= chain.size()) {
            return new BlockStatus(length, 0, false, true, false, false, -1, null);
        }
        return chain.blockStatus(pos, Math.min(length, chain.size() - pos));
    }

    /**
     * Compares whole image clusters of the old and the new view and writes the old bytes of
     * each cluster that differs: zeros as zeros (a zero cluster on v3), data as data. Whole
     * clusters, so nothing is copied-on-write from the new chain, and a zero write is never
     * skipped as "already zero" (the new chain does not read zeros there).
     */
    private static final class ClusterCopier {
        private final Qcow2Image img;
        private final BlockDevice oldChain;
        private final int cluster;
        /** The old chain's bytes: each buffer stays with the writes queued from it until they end. */
        private final BufferPool oldBuffers;
        private final ByteBuffer newBuf;
        private final MemorySegment newWhole;

        ClusterCopier(Qcow2Image img, BlockDevice oldChain, int bufferBytes, int threads) {
            this.img = img;
            this.oldChain = oldChain;
            this.cluster = img.clusterSize();
            this.oldBuffers = new BufferPool(threads + 1, bufferBytes);
            this.newBuf = ByteBuffer.allocateDirect(bufferBytes);
            this.newWhole = ZeroScan.whole(newBuf);
        }

        /**
         * Handles the clusters that {@code [pos, end)} touches (all unallocated in the image).
         * A side known to read zeros over the whole range ({@code oldZero}, {@code newZero})
         * is not read when the range covers whole clusters.
         */
        void copyChangedClusters(long pos, long end, boolean oldZero, boolean newZero) throws IOException {
            long size = img.size();
            long from = pos - pos % cluster;
            long to = Math.min(size, end % cluster == 0 ? end : end - end % cluster + cluster);
            boolean aligned = from == pos && to == end;
            // A side known to read zeros is not read: its clusters are compared with zeros.
            boolean oldKnownZero = aligned && oldZero;
            boolean newKnownZero = aligned && newZero;
            for (long p = from; p < to; ) {
                int length = (int) Math.min(newBuf.capacity(), to - p);
                BufferPool.Held held = oldBuffers.hold(oldBuffers.take());
                try {
                    copyChunk(p, length, held, oldKnownZero, newKnownZero);
                } finally {
                    held.done();
                }
                p += length;
            }
        }

        /** One buffer's worth: compare, then queue the old bytes of differing clusters (runs as one write). */
        private void copyChunk(long p, int length, BufferPool.Held held, boolean oldKnownZero, boolean newKnownZero)
                throws IOException {
            ByteBuffer oldBuf = held.buffer();
            {
                // A side known to read zeros is not read: its clusters are compared with zeros.
                if (!oldKnownZero) {
                    readOld(oldBuf, p, length);
                }
                if (!newKnownZero) {
                    img.read(p, newBuf.clear().slice(0, length)); // unallocated clusters: the new chain's view
                }
                int runStart = -1; // a run of differing data clusters, written as one
                MemorySegment oldWhole = ZeroScan.whole(oldBuf); // views for all the clusters, no slices
                for (int i = 0; i < length; i += cluster) {
                    int n = Math.min(cluster, length - i);
                    boolean differ;
                    boolean oldIsZero;
                    if (oldKnownZero) {
                        oldIsZero = true;
                        differ = !ZeroScan.isZero(newBuf, newWhole, i, i + n);
                    } else if (newKnownZero) {
                        oldIsZero = ZeroScan.isZero(oldBuf, oldWhole, i, i + n);
                        differ = !oldIsZero;
                    } else {
                        differ = MemorySegment.mismatch(oldWhole, i, i + n, newWhole, i, i + n) >= 0;
                        oldIsZero = differ && ZeroScan.isZero(oldBuf, oldWhole, i, i + n);
                    }
                    boolean data = differ && !oldIsZero;
                    if (!data && runStart >= 0) {
                        img.writeQueued(p + runStart, oldBuf.slice(runStart, i - runStart), held.share());
                        runStart = -1;
                    }
                    if (data && runStart < 0) {
                        runStart = i;
                    }
                    if (differ && oldIsZero) {
                        img.writeZeroes(p + i, n);
                    }
                }
                if (runStart >= 0) {
                    img.writeQueued(p + runStart, oldBuf.slice(runStart, length - runStart), held.share());
                }
            }
        }

        private static void fillZero(ByteBuffer b, int from, int to) {
            for (int i = from; i < to; i++) {
                b.put(i, (byte) 0);
            }
        }

        /** The old chain's bytes of {@code [p, p+length)}: zeros past its end or without one. */
        private void readOld(ByteBuffer oldBuf, long p, int length) throws IOException {
            int n = oldChain == null || p >= oldChain.size() ? 0 : (int) Math.min(length, oldChain.size() - p);
            if (n > 0) {
                oldChain.read(p, oldBuf.slice(0, n));
            }
            if (n < length) {
                fillZero(oldBuf, n, length);
            }
        }
    }

    /** Do two status files name the same file? Real paths, looked up once per name. */
    private static final class SameFile {
        private final Map<Path, Path> real = new HashMap<>();

        boolean test(Path a, Path b) {
            if (a == null || b == null) {
                return false;
            }
            return a.equals(b) || realPath(a).equals(realPath(b));
        }

        private Path realPath(Path p) {
            return real.computeIfAbsent(p, q -> {
                try {
                    return q.toRealPath();
                } catch (IOException e) {
                    return q.toAbsolutePath().normalize(); // not a file on disk: compare names
                }
            });
        }
    }
}
