package org.vmsnap.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.vmsnap.qcow2.engine.ImageChecker;
import org.vmsnap.qcow2.engine.ImageCreator;
import org.vmsnap.qcow2.engine.Qcow2Engine;
import org.vmsnap.qcow2.format.Header;
import org.vmsnap.qcow2.format.SnapshotEntry;
import org.vmsnap.qcow2.io.BlockStore;
import org.vmsnap.qcow2.io.FileBlockStore;

/**
 * A qcow2 image: the facade over the engine. Opening validates the header and takes
 * QEMU-compatible locks; every method delegates to the engine package.
 */
public final class Qcow2Image implements BlockDevice {
    private final Path path;
    /** Replaced by every snapshot operation, which reopens the engine on the new tables. */
    private Qcow2Engine engine;
    /** The last unallocated run of this file that {@link #blockStatus} found; empty: -1, -1. */
    private long ownRunStart = -1;
    private long ownRunEnd = -1;
    /** Host offset of that run's first byte (unallocated subclusters of an allocated cluster), or -1. */
    private long ownRunHost = -1;

    private Qcow2Image(Path path, Qcow2Engine engine) {
        this.path = path;
        this.engine = engine;
    }

    /**
     * The checks {@link #create} makes before it touches any file (the options, the backing
     * file's name), so that a caller can refuse before it announces the new image.
     *
     * @param options with the size resolved (not -1)
     */
    public static void checkCreate(Path file, Qcow2CreateOptions options) throws BackingChainException {
        if (options.backingFile() != null) {
            BackingChain.checkName(file, options.backingFile());
        }
        ImageCreator.validate(options);
    }

    /** Creates a new qcow2 file (refusing to overwrite an existing one) and opens it read-write. */
    public static Qcow2Image create(Path file, Qcow2CreateOptions options) throws IOException {
        Made made = makeFile(file, options);
        Qcow2CreateOptions o = made.options();
        Qcow2Image img = null;
        try {
            img = open(file, OpenOptions.readWrite().withOpenBacking(o.backingFile() != null
                    && Files.exists(BackingChain.resolve(file, o.backingFile()))));
            if ("metadata".equals(o.preallocation())) {
                img.engine.preallocateMetadata();
            }
            return img;
        } catch (IOException | RuntimeException e) {
            // The file is this call's and unfinished (a full disk during preallocation, say):
            // it must not stay under its final name. Another process that opened it keeps it.
            if (img != null) {
                closeQuietly(img, e);
            }
            try {
                if (made.fileKey() == null) {
                    ImageFiles.deleteUnlessInUse(file);
                } else {
                    ImageFiles.deleteMadeFile(file, made.fileKey());
                }
            } catch (IOException | RuntimeException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
    }

    /**
     * Creates a new, empty qcow2 file (refusing to overwrite an existing one) without opening it
     * or its backing file afterwards: an overlay over an image a running QEMU holds is made this
     * way. Returns the options with the size resolved.
     */
    public static Qcow2CreateOptions createFile(Path file, Qcow2CreateOptions options) throws IOException {
        if ("metadata".equals(options.preallocation())) {
            throw new IllegalArgumentException("preallocation=metadata needs the image opened: use create()");
        }
        return makeFile(file, options).options();
    }

    /** A file {@link #makeFile} made: the options with the size resolved, and the file's identity. */
    private record Made(Qcow2CreateOptions options, Object fileKey) {
    }

    private static Made makeFile(Path file, Qcow2CreateOptions options) throws IOException {
        Qcow2CreateOptions o = options;
        if (o.backingFile() != null) {
            BackingChain.checkName(file, o.backingFile());
            if (o.backingFormat() == null) {
                throw new IllegalArgumentException("Backing file specified without backing format (use -F raw or -F qcow2)");
            }
        }
        if (o.sizeBytes() < 0) {
            if (o.backingFile() == null) {
                throw new IllegalArgumentException("Image creation needs a size parameter");
            }
            o = new Qcow2CreateOptions(backingSize(file, o), o.clusterSizeBytes(), o.refcountBits(), o.compat(),
                    o.backingFile(), o.backingFormat(), o.lazyRefcounts(), o.preallocation(), o.compressionType());
        }
        ImageCreator.validate(o);
        // An existing file makes create() throw before anything is ours; only a file this call
        // created is removed on failure, while its write lock is still held.
        FileBlockStore store = FileBlockStore.create(file);
        try {
            ImageCreator.create(store, o);
        } catch (IOException | RuntimeException e) {
            try {
                store.deleteFile();
            } catch (IOException | RuntimeException cleanup) {
                e.addSuppressed(cleanup);
            }
            closeQuietly(store, e);
            throw e;
        }
        Object fileKey;
        try {
            fileKey = store.fileKey();
        } finally {
            store.close();
        }
        return new Made(o, fileKey);
    }

    private static long backingSize(Path file, Qcow2CreateOptions o) throws IOException {
        Path resolved = BackingChain.resolve(file, o.backingFile());
        OpenOptions ro = OpenOptions.readOnlyOpen().withFormat(o.backingFormat()).withForceShare(true);
        try (BlockDevice b = Images.open(resolved, ro)) {
            return b.size();
        }
    }

    /** Opens an existing qcow2 file (with its backing chain unless told not to). */
    public static Qcow2Image open(Path file, OpenOptions options) throws IOException {
        Set<Path> seen = new HashSet<>();
        if (Files.exists(file)) {
            seen.add(file.toRealPath());
        }
        return openChain(file, options, 0, seen, null);
    }

    /**
     * Opens an image the user named read-write with its chain, and the chain member whose
     * real path is {@code writableMember} read-write too (the target of a commit); every
     * other member is opened read-only.
     */
    static Qcow2Image openWithWritableMember(Path file, Path writableMember) throws IOException {
        Set<Path> seen = new HashSet<>();
        if (Files.exists(file)) {
            seen.add(file.toRealPath());
        }
        return openChain(file, OpenOptions.readWrite().withFormat("qcow2"), 0, seen, writableMember);
    }

    static Qcow2Image openChain(Path file, OpenOptions options, int depth, Set<Path> seen, Path writableMember)
            throws IOException {
        return openWith(file, options, header -> options.openBacking()
                ? BackingChain.open(file, header, options, depth, seen, writableMember) : null);
    }

    /**
     * Opens an image read-write over a backing device the caller chose instead of the one
     * its header names (a rebase writes while reading through the new chain; the header
     * still names the old one until the data is in). The image owns {@code backing}, also
     * when the open fails.
     */
    static Qcow2Image openOver(Path file, BlockDevice backing) throws IOException {
        boolean[] handedOver = {false};
        try {
            return openWith(file, OpenOptions.readWrite().withFormat("qcow2"), header -> {
                handedOver[0] = true; // from here on openWith closes it on failure
                return backing;
            });
        } catch (IOException | RuntimeException e) {
            if (backing != null && !handedOver[0]) {
                try {
                    backing.close();
                } catch (IOException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
    }

    /** Supplies the backing device once the header is known. */
    @FunctionalInterface
    private interface BackingOpener {
        BlockDevice open(Header header) throws IOException;
    }

    private static Qcow2Image openWith(Path file, OpenOptions options, BackingOpener opener) throws IOException {
        FileBlockStore store = FileBlockStore.open(file, options.readOnly(), options.forceShare());
        BlockDevice backing = null;
        try {
            Header header = Qcow2Engine.readHeader(store);
            if (!options.readOnly()) {
                header.checkWritable(file); // before the dirty-image repair below writes anything
            }
            if (!options.readOnly() && header.isDirty()) {
                // As QEMU does: an image left dirty (lazy refcounts) gets its refcounts rebuilt first.
                ImageChecker.check(store, RepairMode.ALL);
                header = Qcow2Engine.readHeader(store);
                Header clean = header.withFeatures(header.incompatibleFeatures() & ~Header.INCOMPAT_DIRTY,
                        header.compatibleFeatures(), header.autoclearFeatures());
                store.write(0, ByteBuffer.wrap(clean.encode()));
                store.flush();
                header = clean;
            }
            backing = opener.open(header);
            return new Qcow2Image(file, Qcow2Engine.open(store, header, options.readOnly(), backing));
        } catch (IOException | RuntimeException e) {
            try {
                if (backing != null) {
                    backing.close();
                }
            } finally {
                store.close();
            }
            throw e;
        }
    }

    /**
     * Opens an image on a store the caller already opened (in-memory stores in tests,
     * fault-injecting stores in crash tests). The image owns the store and the backing
     * device from here on and closes them.
     */
    static Qcow2Image openStore(BlockStore store, boolean readOnly, BlockDevice backing) throws IOException {
        try {
            Header header = Qcow2Engine.readHeader(store);
            return new Qcow2Image(store.path(), Qcow2Engine.open(store, header, readOnly, backing));
        } catch (IOException | RuntimeException e) {
            store.close();
            throw e;
        }
    }

    /**
     * Checks (and with {@code repair} other than NONE, repairs) an image. Opens the file
     * itself: a check must work on images that a normal open refuses as corrupt.
     */
    public static CheckResult check(Path file, RepairMode repair) throws IOException {
        try (FileBlockStore store = FileBlockStore.open(file, repair == RepairMode.NONE, false)) {
            return ImageChecker.check(store, repair);
        }
    }

    public ImageInfo info() throws IOException {
        Header h = engine.header();
        List<SnapshotInfo> snaps = snapshots();
        String backing = h.backingFileName();
        String full = backing == null ? null : BackingChain.fullName(path, backing);
        ImageInfo.Qcow2Specific spec = new ImageInfo.Qcow2Specific(h.compat(),
                h.compressionTypeName(), h.lazyRefcounts(), h.geometry().refcountBits(),
                h.isCorrupt(), h.hasExtendedL2());
        // The backing format only comes with a backing file name, as qemu-img info shows it.
        return new ImageInfo(path.toString(), "qcow2", h.size(), allocatedFileBytes(), h.geometry().clusterSize(),
                h.isDirty(), backing, full, backing == null ? null : h.backingFormat(), snaps, spec);
    }

    // ---- internal snapshots ------------------------------------------------------------------

    /** The internal snapshots, in table order. */
    public List<SnapshotInfo> snapshots() {
        List<SnapshotInfo> snaps = new ArrayList<>();
        long size = engine.header().size();
        for (SnapshotEntry s : engine.snapshots()) {
            snaps.add(new SnapshotInfo(s.id(), s.name(), s.vmStateSize(), s.dateSec(), s.dateNsec(),
                    s.vmClockNsec(), s.icount(), s.diskSize() >= 0 ? s.diskSize() : size));
        }
        return snaps;
    }

    /**
     * Takes an internal snapshot of the disk as it is now, as {@code qemu-img snapshot -c}
     * does (no VM state). The id is assigned as QEMU assigns it.
     *
     * @throws IllegalArgumentException  for an empty name or one longer than 255 bytes
     * @throws SnapshotExistsException   when a snapshot already has this name
     * @throws UnsupportedFeatureException at QEMU's limits, or with refcount_bits=1 when the
     *                                   disk has data (QEMU refuses that too)
     */
    public SnapshotInfo createSnapshot(String name) throws IOException {
        changed();
        engine = engine.createSnapshot(name, java.time.Instant.now());
        return snapshots().getLast();
    }

    /**
     * Makes the active disk the snapshot's again (its size included), as
     * {@code qemu-img snapshot -a} does: by id first, else by name. Snapshots are untouched.
     */
    public void applySnapshot(String idOrName) throws IOException {
        changed();
        engine = engine.applySnapshot(idOrName);
    }

    /** Deletes a snapshot (by id first, else by name) and frees the clusters only it used. */
    public void deleteSnapshot(String idOrName) throws IOException {
        changed();
        engine = engine.deleteSnapshot(idOrName);
    }

    /**
     * Renames a snapshot (by id first, else by name); its id, data and times stay. The new
     * name must not be taken (the rules of {@link #createSnapshot}).
     */
    public void renameSnapshot(String idOrName, String newName) throws IOException {
        changed();
        engine = engine.renameSnapshot(idOrName, newName);
    }

    /**
     * A read-only view of a snapshot's disk (by id first, else by name), reading through the
     * backing file like the active disk. Closing the view does not close this image; the view
     * stops working when this image closes or its snapshots change.
     */
    public BlockDevice readSnapshot(String idOrName) throws IOException {
        return new SnapshotView(this, engine, engine.snapshotReader(idOrName));
    }

    /** The engine a snapshot view was made from is still this image's. */
    boolean isCurrent(Qcow2Engine e) {
        return e == engine && e.isOpen();
    }

    /** Grows the disk; shrinks only when the cut-off part holds no data. */
    public void resize(long newSizeBytes) throws IOException {
        changed();
        engine.resize(newSizeBytes);
    }

    /** Disk space set aside by {@link #reserveForWrites}; closing it gives back what was not used. */
    public interface Reservation extends AutoCloseable {
        @Override
        void close() throws IOException;
    }

    /**
     * Sets disk space aside for writing {@code dataRanges} and making {@code zeroRanges} read as
     * zeros (guest {offset, length} pairs) after growing to {@code newSize}, so that a full disk
     * fails here, before the image changed. Nothing is set aside where the file system cannot.
     */
    public Reservation reserveForWrites(List<long[]> dataRanges, List<long[]> zeroRanges, long newSize)
            throws IOException {
        long[] reserved = engine.reserveForWrites(dataRanges, zeroRanges, newSize);
        return () -> {
            if (reserved != null && engine.isOpen()) {
                engine.releaseReservation(reserved);
            }
        };
    }

    /** Writes one aligned guest cluster compressed (uncompressed when that saves nothing). */
    public void writeCompressed(long guestOffset, byte[] cluster) throws IOException {
        changed();
        engine.writeCompressed(guestOffset, cluster);
    }

    /**
     * Compresses one whole cluster with this image's codec into {@code out} (one byte shorter than a
     * cluster) and returns the length, or -1 when it does not shrink; thread-safe, so clusters can be
     * compressed on other threads and written with {@link #writeCompressed(long, byte[], byte[], int)}.
     */
    public int compressCluster(byte[] cluster, byte[] out) throws IOException {
        return engine.compressCluster(cluster, out);
    }

    /** Writes a cluster that {@link #compressCluster} compressed into {@code out[0, len)} (-1: stored as is). */
    public void writeCompressed(long guestOffset, byte[] cluster, byte[] out, int len) throws IOException {
        changed();
        engine.writeCompressed(guestOffset, cluster, out, len);
    }

    /** Rounds the file's end up to whole 512-byte sectors, as qemu-img leaves a compressed convert's target. */
    public void alignFileEndToSector() throws IOException {
        engine.alignFileEndToSector();
    }

    /** The decoded header (for the chain code of this package). */
    Header header() {
        return engine.header();
    }

    public int clusterSize() {
        return engine.header().geometry().clusterSize();
    }

    /** The opened backing file, or null. */
    public BlockDevice backing() {
        return engine.backing();
    }

    /** The backing file name as stored in the header, or null. */
    public String backingFileName() {
        return engine.header().backingFileName();
    }

    /** The backing file format recorded in the header ("qcow2", "raw"...), or null. */
    public String backingFormat() {
        return engine.header().backingFormat();
    }

    /**
     * Records a new backing file name and format in the header, or none ({@code name}
     * null). Only the header changes: the data is not compared or copied (that is
     * {@link ImageRebase}). Everything written before is made durable first. The opened
     * backing chain, if any, stays the one this image was opened with.
     */
    public void setBacking(String name, String format) throws IOException {
        if (name != null) {
            BackingChain.checkName(path, name);
            if (format == null) {
                throw new IllegalArgumentException("a backing file needs a format (raw or qcow2)");
            }
        }
        engine.setBacking(name, format);
    }

    /**
     * Makes whole clusters unallocated again, so that they read from the backing file:
     * how an overlay is emptied after its data was committed. The range starts on a
     * cluster boundary and ends on one or at the end of the disk.
     */
    void deallocate(long guestOffset, long lengthBytes) throws IOException {
        changed(guestOffset, lengthBytes);
        engine.deallocate(guestOffset, lengthBytes);
    }

    @Override
    public Path path() {
        return path;
    }

    @Override
    public String format() {
        return "qcow2";
    }

    @Override
    public long size() {
        return engine.header().size();
    }

    @Override
    public boolean isReadOnly() {
        return engine.isReadOnly();
    }

    @Override
    public void read(long guestOffset, ByteBuffer dst) throws IOException {
        engine.read(guestOffset, dst);
    }

    @Override
    public void write(long guestOffset, ByteBuffer src) throws IOException {
        changed(guestOffset, src.remaining());
        engine.write(guestOffset, src);
    }

    @Override
    public void writeQueued(long guestOffset, ByteBuffer src, Runnable release) throws IOException {
        changed(guestOffset, src.remaining());
        engine.writeQueued(guestOffset, src, release);
    }

    @Override
    public void useParallelWrites(int threads) throws IOException {
        engine.useParallelWrites(threads);
    }

    @Override
    public void writeZeroes(long guestOffset, long lengthBytes) throws IOException {
        changed(guestOffset, lengthBytes);
        engine.writeZeroes(guestOffset, lengthBytes);
    }

    @Override
    public void discard(long guestOffset, long lengthBytes) throws IOException {
        changed(guestOffset, lengthBytes);
        engine.discard(guestOffset, lengthBytes);
    }

    @Override
    public void useCacheMode(CacheMode mode) {
        engine.useCacheMode(mode);
    }

    @Override
    public void flush() throws IOException {
        engine.flush();
    }

    /**
     * Where an image with a backing file is unallocated, the backing chain decides; the
     * unallocated run of this file ({@code [ownRunStart, ownRunEnd)}) is remembered, so a
     * walk over the disk whose backing answers come in short pieces does not scan this
     * file's L2 entries again for every piece. Any change to this image forgets it.
     */
    @Override
    public BlockStatus blockStatus(long guestOffset, long maxLengthBytes) throws IOException {
        BlockDevice backing = engine.backing();
        if (backing == null) {
            return engine.blockStatus(guestOffset, maxLengthBytes);
        }
        if (guestOffset < ownRunStart || guestOffset >= ownRunEnd) {
            BlockStatus own = engine.ownBlockStatus(guestOffset, size() - guestOffset);
            if (own.present()) {
                return own.lengthBytes() <= maxLengthBytes ? own : own.withLength(maxLengthBytes);
            }
            ownRunStart = guestOffset;
            ownRunEnd = guestOffset + own.lengthBytes();
            ownRunHost = own.hostOffset();
        }
        long n = Math.min(maxLengthBytes, ownRunEnd - guestOffset);
        if (guestOffset >= backing.size()) {
            // Past a short backing file the zeros are this image's own (qemu-img map: depth 0),
            // with the host offset of unallocated subclusters of an allocated cluster.
            long host = ownRunHost < 0 ? -1 : ownRunHost + (guestOffset - ownRunStart);
            return new BlockStatus(n, 0, false, true, false, false, host, host < 0 ? null : path);
        }
        BlockStatus b = backing.blockStatus(guestOffset, Math.min(n, backing.size() - guestOffset));
        return b.withDepthAndLength(b.depth() + 1, b.lengthBytes());
    }

    /** A change to the image: the remembered unallocated run may be gone. */
    private void changed() {
        ownRunStart = -1;
        ownRunEnd = -1;
        ownRunHost = -1;
    }

    /**
     * A change to {@code [guestOffset, guestOffset + lengthBytes)} only: the whole clusters of
     * the remembered run past it are untouched, so a walk that writes behind itself (a
     * rebase copying clusters) keeps what it knows ahead.
     */
    private void changed(long guestOffset, long lengthBytes) {
        long end = guestOffset + lengthBytes;
        if (end <= ownRunStart || guestOffset >= ownRunEnd) {
            return;
        }
        long cluster = clusterSize();
        long next = Math.ceilDiv(end, cluster) * cluster;
        if (next < ownRunEnd) {
            long start = Math.max(ownRunStart, next); // what lay before the change is forgotten
            ownRunHost = ownRunHost < 0 ? -1 : ownRunHost + (start - ownRunStart);
            ownRunStart = start;
        } else {
            changed();
        }
    }

    @Override
    public long allocatedFileBytes() throws IOException {
        return engine.allocatedFileBytes();
    }

    @Override
    public void close() throws IOException {
        engine.close();
    }

    private static void closeQuietly(AutoCloseable c, Throwable into) {
        try {
            c.close();
        } catch (Exception e) {
            into.addSuppressed(e);
        }
    }
}
