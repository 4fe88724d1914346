package org.vmsnap.qcow2.engine;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import org.vmsnap.qcow2.BlockDevice;
import org.vmsnap.qcow2.BlockStatus;
import org.vmsnap.qcow2.CompressionCodec;
import org.vmsnap.qcow2.CorruptImageException;
import org.vmsnap.qcow2.ImageException;
import org.vmsnap.qcow2.UnsupportedFeatureException;
import org.vmsnap.qcow2.format.ClusterDescriptor;
import org.vmsnap.qcow2.format.Geometry;
import org.vmsnap.qcow2.format.Header;
import org.vmsnap.qcow2.format.L1Entry;
import org.vmsnap.qcow2.format.SnapshotEntry;
import org.vmsnap.qcow2.io.BlockStore;
import org.vmsnap.qcow2.io.WriteBehind;

/**
 * One open qcow2 file: the header, the active L1 table, the L2 and refcount caches, the
 * allocator and the overlap guard. {@code Qcow2Image} is its public face.
 *
 * <p>Flush order, the crash-safety argument ({@link #flush}): data and raised refcounts
 * first (synced), then L2 tables (synced), then the L1 table (synced), then deferred
 * frees. A crash between any two steps leaks clusters at worst.
 */
public final class Qcow2Engine {
    private final BlockStore store;
    private final Path file;
    private final Geometry g;
    private final boolean readOnly;
    private final BlockDevice backing;
    private final OverlapGuard guard;
    private final RefcountTable refcounts;
    private final ClusterAllocator allocator;
    private final L1Table l1;
    private final L2Cache l2Cache;
    private final ClusterMap map;
    private final DataPath data;
    private final MetadataPreallocation preallocation;
    private final List<SnapshotEntry> snapshots;
    private Header header;
    private CompressionCodec codec;
    private boolean closed;
    private boolean switching;
    /** Read-write only: refcounts known consistent at open (walked, remembered, or carried over). */
    private boolean verified;
    /** Data writes in flight on other threads ({@link #writeQueued}), or null: every write is synchronous. */
    private WriteBehind behind;

    private Qcow2Engine(BlockStore store, Header header, List<SnapshotEntry> snapshots, boolean readOnly,
                        BlockDevice backing) throws IOException {
        this.store = store;
        this.file = store.path();
        this.header = header;
        this.g = header.geometry();
        this.readOnly = readOnly;
        this.backing = backing;
        this.snapshots = snapshots;
        this.guard = MetadataLayout.guard(store, header, snapshots);
        this.refcounts = new RefcountTable(store, file, g, guard, header.refcountTableOffset(),
                header.refcountTableClusters());
        MetadataLayout.registerRefcountBlocks(guard, file, g, refcounts, store.size());
        this.allocator = new ClusterAllocator(store, file, g, refcounts, guard, this::switchRefcountTable);
        this.l1 = new L1Table(store, file, g, header.l1TableOffset(), header.l1Size());
        MetadataLayout.registerL2Tables(guard, file, header, l1.raw(), "active L1 table");
        this.l2Cache = new L2Cache(store, g, guard, () -> {
            refcounts.flush();
            store.flush();
        }, readOnly ? L2Cache.READ_ONLY_TABLES : (int) Math.max(4, L2Cache.BUDGET_BYTES / g.clusterSize()));
        this.map = new ClusterMap(this);
        this.data = new DataPath(this, map);
        this.preallocation = new MetadataPreallocation(store, g, refcounts);
        if (!readOnly) {
            guard.setMarker(this::markCorrupt);
        }
    }

    /**
     * Opens the engine on a store whose header has been decoded. {@code backing} is the
     * already opened backing device, or null.
     */
    public static Qcow2Engine open(BlockStore store, Header header, boolean readOnly, BlockDevice backing)
            throws IOException {
        return open(store, header, readOnly, backing, false);
    }

    /**
     * {@code trusted}: this process just wrote the file through an engine that had verified
     * it (a snapshot operation reopening on its new header), so the walk is not repeated.
     */
    private static Qcow2Engine open(BlockStore store, Header header, boolean readOnly, BlockDevice backing,
                                    boolean trusted) throws IOException {
        Path file = store.path();
        if (!readOnly) {
            header.checkWritable(file);
        }
        if (!readOnly && header.isCorrupt()) {
            throw new CorruptImageException(file, "header", 0x48, "the image is marked corrupt; "
                    + "it can only be opened read-only (repair it with 'vmsnap img check -r all')");
        }
        List<SnapshotEntry> snapshots = SnapshotTableReader.read(store, header);
        Qcow2Engine engine = new Qcow2Engine(store, header, snapshots, readOnly, backing);
        if (!readOnly) {
            // The dirty bit (lazy refcounts) says the refcounts may be stale: always walk then,
            // as QEMU checks such an image on a read-write open.
            if (!trusted && (header.isDirty() || !org.vmsnap.qcow2.VerifiedImages.isVerified(file))) {
                WriteOpenCheck.refuseInconsistentRefcounts(store, engine.guard, engine.g);
            }
            engine.verified = true;
            engine.prepareForWriting();
        }
        return engine;
    }

    /** Reads and decodes the header cluster (at most one cluster, fewer bytes for short files). */
    public static Header readHeader(BlockStore store) throws IOException {
        long size = store.size();
        ByteBuffer first = ByteBuffer.allocate((int) Math.min(size, 4096));
        store.read(0, first);
        first.flip();
        int clusterBits = first.remaining() >= 24 ? first.getInt(20) : 0;
        if (clusterBits >= 9 && clusterBits <= 21 && (1 << clusterBits) > first.remaining()
                && size > first.remaining()) {
            ByteBuffer whole = ByteBuffer.allocate((int) Math.min(size, 1L << clusterBits));
            store.read(0, whole);
            whole.flip();
            first = whole;
        }
        return Header.decode(store.path(), first, size);
    }

    /**
     * Before the first write: clear autoclear bits (vmsnap keeps no bitmaps up to date, so
     * their "consistent" bit must go, as QEMU does for bits it does not know).
     */
    private void prepareForWriting() throws IOException {
        if (header.version() >= 3 && header.autoclearFeatures() != 0) {
            writeHeader(header.withFeatures(header.incompatibleFeatures(), header.compatibleFeatures(), 0));
        }
    }

    // ---- accessors for the package ------------------------------------------------------

    Geometry geometry() {
        return g;
    }

    public Header header() {
        return header;
    }

    public Path file() {
        return file;
    }

    BlockStore store() {
        return store;
    }

    L1Table l1() {
        return l1;
    }

    L2Cache l2Cache() {
        return l2Cache;
    }

    ClusterAllocator allocator() {
        return allocator;
    }

    OverlapGuard guard() {
        return guard;
    }

    MetadataPreallocation preallocation() {
        return preallocation;
    }

    public BlockDevice backing() {
        return backing;
    }

    public List<SnapshotEntry> snapshots() {
        return List.copyOf(snapshots);
    }

    CompressionCodec codec() throws UnsupportedFeatureException {
        if (codec == null) {
            codec = Codecs.forType(file, header.compressionType());
        }
        return codec;
    }

    public boolean isReadOnly() {
        return readOnly;
    }

    // ---- guest I/O ------------------------------------------------------------------------

    public void read(long guestOffset, ByteBuffer dst) throws IOException {
        checkOpen();
        checkRange(guestOffset, dst.remaining());
        settle(guestOffset, dst.remaining());
        data.read(guestOffset, dst);
    }

    public void write(long guestOffset, ByteBuffer src) throws IOException {
        checkWritable();
        checkRange(guestOffset, src.remaining());
        settle(guestOffset, src.remaining());
        data.write(guestOffset, src);
    }

    /**
     * Writes {@code src} like {@link #write}, possibly after returning: with parallel writes on
     * ({@link #useParallelWrites}), whole clusters are written by other threads while this one
     * goes on; {@code release} runs once {@code src} is no longer needed (on any thread). A
     * failed write is thrown by a later call (a write, a flush, close), after every write in
     * flight has ended and the image's tables agree with what reached the file. Anything that
     * reads or changes the range waits for its writes first.
     */
    public void writeQueued(long guestOffset, ByteBuffer src, Runnable release) throws IOException {
        try {
            checkWritable();
            checkRange(guestOffset, src.remaining());
            settle(guestOffset, src.remaining());
        } catch (IOException | RuntimeException ex) {
            release.run();
            throw ex;
        }
        if (behind == null || !store.concurrentWrites()) {
            try {
                data.write(guestOffset, src);
            } finally {
                release.run();
            }
            return;
        }
        data.writeQueued(guestOffset, src, release, behind);
    }

    /**
     * Up to {@code threads} data writes in flight at once from now on ({@link #writeQueued}); 1
     * or less: synchronous writes again (after the writes in flight ended).
     */
    public void useParallelWrites(int threads) throws IOException {
        checkOpen();
        WriteBehind old = behind;
        behind = null; // a failing close leaves synchronous writes
        behind = WriteBehind.resize(old, threads, readOnly);
    }

    /** Waits for the writes in flight that may touch {@code [guestOffset, +length)} (all of them, to keep it simple). */
    private void settle(long guestOffset, long length) throws IOException {
        if (behind != null) {
            behind.settle(guestOffset, length);
        }
    }

    /** Waits for every write in flight (before anything that reads or changes metadata broadly). */
    private void settleAll() throws IOException {
        if (behind != null) {
            behind.drain();
        }
    }

    public void writeZeroes(long guestOffset, long length) throws IOException {
        checkWritable();
        checkRange(guestOffset, length);
        settle(guestOffset, length);
        data.zeroOrDiscard(guestOffset, length, false);
    }

    public void discard(long guestOffset, long length) throws IOException {
        checkWritable();
        checkRange(guestOffset, length);
        settle(guestOffset, length);
        data.zeroOrDiscard(guestOffset, length, true);
    }

    /** Writes one whole, cluster-aligned guest cluster compressed with the image's codec. */
    public void writeCompressed(long guestOffset, byte[] cluster) throws IOException {
        beginCompressedWrite(guestOffset, cluster, true, "compressed writes take one whole aligned cluster");
        data.writeCompressed(guestOffset, cluster);
    }

    /**
     * As {@link #writeCompressed(long, byte[])}, with the cluster already compressed by
     * {@link #compressCluster} (on another thread, say) into {@code out[0, len)}; {@code len} -1:
     * stored uncompressed.
     */
    public void writeCompressed(long guestOffset, byte[] cluster, byte[] out, int len) throws IOException {
        beginCompressedWrite(guestOffset, cluster, out.length < cluster.length && len >= -1 && len <= out.length,
                "compressed writes take one whole aligned cluster, compressed smaller");
        data.writeCompressed(guestOffset, cluster, out, len);
    }

    /**
     * What both compressed writes check before writing: a writable image, one whole aligned
     * cluster inside the disk ({@code fits}: the caller's own buffers are right too, else
     * {@code rule} is the error); then settles the range.
     */
    private void beginCompressedWrite(long guestOffset, byte[] cluster, boolean fits, String rule) throws IOException {
        checkWritable();
        if (!g.isClusterAligned(guestOffset) || cluster.length != g.clusterSize() || !fits) {
            throw new IllegalArgumentException(rule);
        }
        checkRange(guestOffset, Math.min(cluster.length, header.size() - guestOffset));
        settle(guestOffset, cluster.length);
    }

    /**
     * Compresses one whole cluster with the image's codec into {@code out} (one byte shorter than a
     * cluster): its length, or -1 when it does not shrink. Reads nothing of the image, so any
     * thread may call it.
     */
    public int compressCluster(byte[] cluster, byte[] out) throws IOException {
        if (cluster.length != g.clusterSize() || out.length != g.clusterSize() - 1) {
            throw new IllegalArgumentException("a whole cluster into a buffer one byte shorter");
        }
        return codec().compress(cluster, cluster.length, out);
    }

    /**
     * Rounds the file's end up to a 512-byte boundary, as qemu-img does once a compressed convert
     * has written its last cluster (a compressed fragment may end anywhere; QEMU's zero-length
     * compressed write then truncates the file to its length in whole sectors).
     */
    public void alignFileEndToSector() throws IOException {
        checkWritable();
        long size = store.size();
        long aligned = Math.multiplyExact(Math.ceilDiv(size, 512L), 512L);
        if (aligned != size) {
            store.truncate(aligned);
        }
    }

    public BlockStatus blockStatus(long guestOffset, long maxLength) throws IOException {
        checkOpen();
        checkRange(guestOffset, maxLength);
        settle(guestOffset, maxLength);
        return data.blockStatus(guestOffset, maxLength);
    }

    /**
     * This file's own answer, without asking the backing file: a run unallocated here comes
     * back not present, not zero, at depth 0, as long as it is unallocated here (within one
     * L2 table). Lets a caller that walks the disk remember the run instead of having every
     * status lookup scan the same unallocated entries again. Unallocated subclusters of an
     * allocated cluster come back with their host offset (QEMU reports it where they read as
     * zeros).
     */
    public BlockStatus ownBlockStatus(long guestOffset, long maxLength) throws IOException {
        checkOpen();
        checkRange(guestOffset, maxLength);
        settle(guestOffset, maxLength);
        ClusterMap.Run run = map.run(guestOffset, maxLength);
        if (run.first() instanceof ClusterDescriptor.Unallocated) {
            return new BlockStatus(run.lengthBytes(), 0, false, false, false, false, run.hostOffset(),
                    run.hostOffset() >= 0 ? file : null);
        }
        return data.blockStatus(guestOffset, run.lengthBytes());
    }

    private void checkRange(long guestOffset, long length) {
        if (guestOffset < 0 || length < 0 || guestOffset > header.size() - length) {
            throw new IllegalArgumentException(file + ": range 0x" + Long.toHexString(guestOffset) + "+" + length
                    + " outside the virtual disk (" + header.size() + " bytes)");
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException(file + " is closed");
        }
    }

    private void checkWritable() throws IOException {
        checkOpen();
        if (readOnly) {
            throw new IllegalStateException(file + " is open read-only");
        }
        if (guard.tripped()) {
            throw new CorruptImageException(file, "image", -1, "marked corrupt after an overlap; no more writes");
        }
    }

    // ---- flush and metadata updates -----------------------------------------------------

    /** Makes everything written durable, in the order that keeps a crash harmless. */
    public void flush() throws IOException {
        checkOpen();
        if (readOnly) {
            return;
        }
        // 0. Writes in flight end first; a failed one was given back, the others are in the
        // tables: what follows makes that consistent state durable, and the failure is thrown after.
        IOException failed = null;
        try {
            settleAll();
        } catch (IOException ex) {
            failed = ex;
        }
        try {
            flushSettled();
        } catch (IOException | RuntimeException ex) {
            if (failed != null) {
                failed.addSuppressed(ex);
            } else {
                throw ex;
            }
        }
        if (failed != null) {
            throw failed;
        }
    }

    private void flushSettled() throws IOException {
        // 1. Data and raised refcounts before any table that uses them.
        store.flush();
        refcounts.flush();
        // 2. L2 tables, then 3. the L1 entries pointing at them.
        if (l2Cache.isDirty()) {
            l2Cache.flush();
            store.flush();
        }
        if (l1.isDirty()) {
            l1.flush(guard);
            store.flush();
        }
        // 4. Only now may refcounts go down: nothing on disk uses those clusters any more.
        if (allocator.hasPendingFrees()) {
            allocator.applyPendingFrees();
            refcounts.flush();
        }
    }

    /**
     * Makes whole clusters unallocated, so they read from the backing file again (or zeros
     * without one): what emptying an overlay after a commit needs. {@link #discard} is not
     * that on v3, where discarded clusters read as zeros. The range must start on a cluster
     * boundary and end on one or at the end of the disk. The freed clusters are released
     * with the deferred frees of {@link #flush}, after the L2 tables that dropped them.
     */
    public void deallocate(long guestOffset, long length) throws IOException {
        checkWritable();
        checkRange(guestOffset, length);
        settleAll();
        long end = guestOffset + length;
        if (!g.isClusterAligned(guestOffset) || (!g.isClusterAligned(end) && end != header.size())) {
            throw new IllegalArgumentException(file + ": deallocate takes whole clusters, not 0x"
                    + Long.toHexString(guestOffset) + "+" + length);
        }
        long coverage = 1L << g.l2CoverageBits();
        for (long pos = guestOffset; pos < end; ) {
            long tableEnd = Math.min(end, (pos & ~(coverage - 1)) + coverage);
            if (map.l2ForRead(pos) == null) {
                pos = tableEnd; // no L2 table: already unallocated
                continue;
            }
            for (; pos < tableEnd; pos += g.clusterSize()) {
                long[] current = map.l2ForRead(pos);
                if (map.decode(current, pos) instanceof ClusterDescriptor.Unallocated) {
                    continue;
                }
                ClusterMap.WritableL2 l2 = map.l2ForWrite(pos);
                ClusterDescriptor old = map.decode(l2.entries(), pos);
                map.set(l2, pos, ClusterDescriptor.UNALLOCATED);
                map.release(old);
            }
        }
    }

    /**
     * Records a new backing file name and format in the header ({@code null} name: no
     * backing file). Everything written before is flushed first, so data copied for a
     * rebase is durable before the header names the new backing file.
     */
    public void setBacking(String name, String format) throws IOException {
        checkWritable();
        if (name != null && name.getBytes(java.nio.charset.StandardCharsets.UTF_8).length
                > org.vmsnap.qcow2.format.Limits.MAX_BACKING_FILE_NAME_BYTES) {
            throw new UnsupportedFeatureException(file, "backing file name is longer than "
                    + org.vmsnap.qcow2.format.Limits.MAX_BACKING_FILE_NAME_BYTES + " bytes");
        }
        Header next = header.withBacking(name, name == null ? null : format);
        if (next.encodedLength() > g.clusterSize()) {
            throw new UnsupportedFeatureException(file, "backing file name does not fit in the header cluster ("
                    + next.encodedLength() + " bytes needed, cluster size " + g.clusterSize() + ")");
        }
        flush();
        writeHeader(next);
    }

    /** Writes a new header and syncs; the header cluster is the only place it goes. */
    void writeHeader(Header newHeader) throws IOException {
        byte[] bytes = newHeader.encode();
        guard.checkMetadataWrite(0, bytes.length, OverlapGuard.Kind.HEADER);
        store.write(0, ByteBuffer.wrap(bytes));
        store.flush();
        this.header = newHeader;
    }

    private void switchRefcountTable(long offset, int clusters) throws IOException {
        writeHeader(header.withRefcountTable(offset, clusters));
    }

    private void markCorrupt() throws IOException {
        header = FeatureBits.writeIncompatible(store, header, header.incompatibleFeatures() | Header.INCOMPAT_CORRUPT);
    }

    /**
     * Changes the virtual size. Growing may move the L1 table (new table written and
     * synced before the header points at it; the old one freed after). Shrinking is
     * refused when the cut-off part holds any data.
     */
    public void resize(long newSize) throws IOException {
        checkWritable();
        settleAll();
        new ImageResize(this, refcounts, data).resize(newSize);
    }

    /**
     * Reserves disk space for the writes of an operation that must not be cut short by a full
     * disk ({@link WriteReservation} says how much).
     *
     * @return what {@link #releaseReservation} gives back, or null when nothing was reserved
     */
    public long[] reserveForWrites(List<long[]> dataRanges, List<long[]> zeroRanges, long newSize)
            throws IOException {
        checkWritable();
        settleAll();
        return new WriteReservation(this, map, refcounts).reserve(dataRanges, zeroRanges, newSize);
    }

    /** Gives back what {@link #reserveForWrites} reserved and no cluster took. */
    public void releaseReservation(long[] reserved) throws IOException {
        settleAll();
        allocator.release(reserved);
    }

    /** Allocates every L2 table and data cluster without writing data (preallocation=metadata). */
    public void preallocateMetadata() throws IOException {
        checkWritable();
        settleAll();
        for (long pos = 0; pos < header.size(); pos += g.clusterSize()) {
            ClusterMap.WritableL2 l2 = map.l2ForWrite(pos);
            if (map.decode(l2.entries(), pos) instanceof ClusterDescriptor.Unallocated) {
                map.set(l2, pos, new ClusterDescriptor.Normal(allocator.allocate(1), true));
            }
        }
        flush();
        long end = 0;
        for (long c = g.clustersFor(store.size()); ; c++) {
            if (allocator.refcount(c) == 0) {
                end = g.clusterOffset(c);
                break;
            }
        }
        if (store.size() < end) {
            store.truncate(end);
        }
    }

    // ---- internal snapshots ----------------------------------------------------------------
    // SnapshotOps does the work and ends in one header write (HeaderSwitch has the crash
    // argument); the engine then reopens itself on the new header, because the L1 table,
    // the refcount table and the snapshot list all moved. This engine is retired: its store
    // and backing belong to the returned one.

    /** Creates an internal snapshot of the active disk; returns the engine to use from now on. */
    public Qcow2Engine createSnapshot(String name, java.time.Instant now) throws IOException {
        return switchTo(() -> SnapshotOps.create(this, name, now));
    }

    /** Makes the active disk the snapshot's (found by id, else by name); returns the engine to use. */
    public Qcow2Engine applySnapshot(String idOrName) throws IOException {
        return switchTo(() -> SnapshotOps.apply(this, idOrName));
    }

    /** Deletes a snapshot (found by id, else by name); returns the engine to use. */
    public Qcow2Engine deleteSnapshot(String idOrName) throws IOException {
        return switchTo(() -> SnapshotOps.delete(this, idOrName));
    }

    /** Renames a snapshot (found by id, else by name); returns the engine to use. */
    public Qcow2Engine renameSnapshot(String idOrName, String newName) throws IOException {
        return switchTo(() -> SnapshotOps.rename(this, idOrName, newName));
    }

    private interface SnapshotOperation {
        SnapshotOps.Switched run() throws IOException;
    }

    private Qcow2Engine switchTo(SnapshotOperation op) throws IOException {
        checkWritable();
        flush();
        stopParallelWrites(); // the next engine writes synchronously unless told otherwise
        SnapshotOps.Switched s;
        try {
            s = op.run();
        } catch (IOException | RuntimeException ex) {
            if (switching) {
                // The header write failed: the file names the old or the new tables, and only
                // a fresh open can tell which. This engine must not write again.
                retireAndClose();
            }
            throw ex;
        }
        closed = true; // from here on the store belongs to the new engine
        try {
            Qcow2Engine next = open(store, s.header(), false, backing, verified);
            // Space given back to the file system only now: nothing refers to it any more.
            for (long[] run : s.freedRuns()) {
                store.punchHole(g.clusterOffset(run[0]), g.clusterOffset(run[1]));
            }
            return next;
        } catch (IOException | RuntimeException ex) {
            retireAndClose();
            throw ex;
        }
    }

    /** HeaderSwitch calls this right before the header write that commits an operation. */
    void beginSwitch() {
        switching = true;
    }

    private void retireAndClose() throws IOException {
        closed = true;
        stopParallelWrites();
        try {
            if (backing != null) {
                backing.close();
            }
        } finally {
            store.close();
        }
    }

    /**
     * A read-only engine that reads a snapshot's disk: the same store and backing, with the
     * snapshot's L1 table as its active one. Never close it (that would close the store);
     * drop it instead. Valid while the snapshot exists.
     */
    public Qcow2Engine snapshotReader(String idOrName) throws IOException {
        checkOpen();
        settleAll();
        SnapshotEntry s = SnapshotTable.find(file, snapshots, idOrName);
        long size = s.diskSize() >= 0 ? s.diskSize() : header.size();
        Header view = header.withSnapshots(0, 0).withL1(s.l1TableOffset(), s.l1Size()).withSize(size);
        return new Qcow2Engine(store, view, List.of(), true, backing);
    }

    /** Sets how this file's writes and flushes reach the disk (the store outlives snapshot switches). */
    public void useCacheMode(org.vmsnap.qcow2.CacheMode mode) {
        store.setCacheMode(mode);
    }

    /** False once closed or retired by a snapshot operation. */
    public boolean isOpen() {
        return !closed;
    }

    public void close() throws IOException {
        if (closed) {
            return;
        }
        try {
            if (!readOnly && !guard.tripped()) {
                flush();
                if (verified && !guard.tripped() && store.cacheMode().flushes()) {
                    // Synced and still locked: the file is as this engine left it.
                    org.vmsnap.qcow2.VerifiedImages.remember(file);
                }
            }
        } finally {
            closed = true;
            try {
                stopParallelWrites();
                if (backing != null) {
                    backing.close();
                }
            } finally {
                store.close();
            }
        }
    }

    /** Ends the write threads (after the writes in flight, whose failure is not thrown again). */
    private void stopParallelWrites() {
        WriteBehind b = behind;
        behind = null;
        if (b != null) {
            try {
                b.close();
            } catch (IOException ignored) {
                // already thrown by the flush that drained it, or the engine is being given up
            }
        }
    }

    public long allocatedFileBytes() throws IOException {
        return store.allocatedBytes();
    }

    /** The active L1 entry for an index (for tests and the checker's cross-checks). */
    L1Entry l1Entry(int index) {
        return l1.get(index);
    }

    static ImageException corrupt(Path file, String kind, long offset, String problem) {
        return new CorruptImageException(file, kind, offset, problem);
    }
}
