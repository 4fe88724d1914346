package org.vmsnap.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

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
                img.setBacking(name, name == null ? null : newBackingFormat);
            }
            return;
        }
        BlockDevice newChain = null;
        try (Qcow2Image img = Qcow2Image.open(image, OpenOptions.readWrite().withFormat("qcow2"))) {
            if (name != null) {
                newChain = openNewBacking(image, name, newBackingFormat);
            }
            copyDifferences(img, newChain, progress);
            // (1) before (2): setBacking flushes the copied clusters before it writes the header.
            img.setBacking(name, name == null ? null : newBackingFormat);
        } finally {
            if (newChain != null) {
                newChain.close();
            }
        }
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
     * unallocated and the old and new chains read differently. {@code newChain} null reads
     * zeros everywhere (flatten).
     */
    private static void copyDifferences(Qcow2Image img, BlockDevice newChain, Progress progress) throws IOException {
        long size = img.size();
        int cluster = img.clusterSize();
        int bufferBytes = Math.max(BUFFER_BYTES - BUFFER_BYTES % cluster, cluster);
        ByteBuffer oldBuf = ByteBuffer.allocate(bufferBytes);
        ByteBuffer newBuf = ByteBuffer.allocate(bufferBytes);
        SameFile sameFile = new SameFile();
        progress.update(0, size);
        long pos = 0;
        while (pos < size) {
            BlockStatus old = img.blockStatus(pos, Math.min(size - pos, bufferBytes));
            long end = pos + old.lengthBytes();
            if (old.depth() == 0 && old.present()) {
                pos = end; // the image's own cluster: the backing file does not matter here
                progress.update(pos, size);
                continue;
            }
            BlockStatus fresh = newStatus(newChain, pos, end - pos);
            end = pos + Math.min(end - pos, fresh.lengthBytes());
            boolean oldZero = old.zero() || !old.present();
            boolean newZero = fresh.zero() || !fresh.present();
            boolean same = (oldZero && newZero)
                    || (old.present() && fresh.present() && old.data() == fresh.data()
                        && sameFile.test(old.file(), fresh.file()));
            if (!same) {
                copyChangedClusters(img, newChain, pos, end, oldBuf, newBuf, newZero);
            }
            pos = end;
            progress.update(pos, size);
        }
    }

    /** The new chain's status; past its end (or without one) the range reads zeros. */
    private static BlockStatus newStatus(BlockDevice newChain, long pos, long length) throws IOException {
        if (newChain == null || pos >= newChain.size()) {
            return new BlockStatus(length, 0, false, true, false, false, -1, null);
        }
        return newChain.blockStatus(pos, Math.min(length, newChain.size() - pos));
    }

    /**
     * Reads {@code [pos, end)} through both chains and writes the old bytes of each piece
     * (cut at the image's cluster boundaries) that differs: zeros as zeros, data as data.
     */
    private static void copyChangedClusters(Qcow2Image img, BlockDevice newChain, long pos, long end,
                                            ByteBuffer oldBuf, ByteBuffer newBuf, boolean newIsZero)
            throws IOException {
        int length = (int) (end - pos);
        oldBuf.clear().limit(length);
        img.read(pos, oldBuf); // the image is unallocated here: this is the old chain's view
        newBuf.clear().limit(length);
        if (newIsZero) {
            java.util.Arrays.fill(newBuf.array(), 0, length, (byte) 0);
        } else {
            newChain.read(pos, newBuf);
        }
        int cluster = img.clusterSize();
        int i = 0;
        while (i < length) {
            long guest = pos + i;
            int pieceEnd = (int) Math.min(length, guest - guest % cluster + cluster - pos);
            ByteBuffer o = oldBuf.slice(i, pieceEnd - i);
            if (o.mismatch(newBuf.slice(i, pieceEnd - i)) >= 0) {
                if (ZeroScan.isZero(oldBuf, i, pieceEnd)) {
                    img.writeZeroes(guest, pieceEnd - i);
                } else {
                    img.write(guest, o);
                }
            }
            i = pieceEnd;
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
