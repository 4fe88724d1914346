package org.vmsnap.qcow2.engine;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;
import org.vmsnap.qcow2.BlockDevice;
import org.vmsnap.qcow2.BlockStatus;
import org.vmsnap.qcow2.CorruptImageException;
import org.vmsnap.qcow2.format.ClusterDescriptor;
import org.vmsnap.qcow2.format.ClusterDescriptor.Compressed;
import org.vmsnap.qcow2.format.ClusterDescriptor.Normal;
import org.vmsnap.qcow2.format.ClusterDescriptor.Unallocated;
import org.vmsnap.qcow2.format.ClusterDescriptor.Zero;
import org.vmsnap.qcow2.format.Geometry;
import org.vmsnap.qcow2.io.WriteBehind;

/**
 * Guest reads and writes: runs of clusters are looked up once, contiguous host data moves
 * in one I/O, partly written clusters are completed from their old contents
 * (copy-on-write), and clusters shared with snapshots or compressed are never written in
 * place.
 */
final class DataPath {
    /** Largest buffer one allocating write assembles. */
    private static final int MAX_WRITE_BUFFER = 4 << 20;

    private final Qcow2Engine e;
    private final Geometry g;
    private final ClusterMap map;
    /** Blocks of a new cluster that {@link org.vmsnap.qcow2.io.BlockStore#writeIntoZeros} may leave out: QEMU's -S 4k. */
    private static final int ZERO_BLOCK = 4096;

    /**
     * A size the file had (it may have grown since, by this image's writes): host ranges at or past
     * it were past the end when checked again. Asked again only for a range at or past it, so a
     * copy that appends cluster after cluster pays one fstat per allocation past the old end, not
     * one per write; a file cut shorter since only makes {@link #readsAsZeros} answer false.
     */
    private long knownFileSize = -1;
    private long cachedCompressedHost = -1;
    private byte[] cachedCompressed;

    DataPath(Qcow2Engine engine, ClusterMap map) {
        this.e = engine;
        this.g = engine.geometry();
        this.map = map;
    }

    void read(long guestOffset, ByteBuffer dst) throws IOException {
        long pos = guestOffset;
        while (dst.hasRemaining()) {
            ClusterMap.Run run = map.run(pos, dst.remaining());
            int n = (int) run.lengthBytes();
            ByteBuffer part = dst.slice(dst.position(), n);
            switch (run.first()) {
                case Unallocated u -> readBacking(pos, part);
                case Zero z -> fillZero(part);
                case Normal nd -> {
                    e.guard().checkDataRead(run.hostOffset(), n);
                    long fileSize = e.store().size();
                    if (run.hostOffset() + n > fileSize) {
                        // QEMU writes whole clusters and extends the file for preallocation:
                        // data past the end means the file was cut, and zeros would be a lie.
                        throw new CorruptImageException(e.file(), "data cluster", Math.max(run.hostOffset(), fileSize),
                                "guest offset 0x" + Long.toHexString(pos) + " maps past the end of the file ("
                                        + fileSize + " bytes): the image is truncated");
                    }
                    e.store().read(run.hostOffset(), part);
                }
                case Compressed c -> {
                    byte[] cluster = decompress(c);
                    part.put(cluster, g.offsetInCluster(pos), n);
                }
                case ClusterDescriptor.Invalid inv -> throw new IllegalStateException("decoded invalid entry");
                case ClusterDescriptor.Subclustered s -> throw new IllegalStateException("runs resolve subclusters");
            }
            dst.position(dst.position() + n);
            pos += n;
        }
    }

    private void readBacking(long pos, ByteBuffer part) throws IOException {
        BlockDevice backing = e.backing();
        if (backing == null || pos >= backing.size()) {
            fillZero(part);
            return;
        }
        int fromBacking = (int) Math.min(part.remaining(), backing.size() - pos);
        backing.read(pos, part.slice(part.position(), fromBacking));
        if (fromBacking < part.remaining()) {
            fillZero(part.slice(part.position() + fromBacking, part.remaining() - fromBacking));
        }
    }

    private static void fillZero(ByteBuffer b) {
        ByteBuffer d = b.duplicate();
        while (d.hasRemaining()) {
            d.put((byte) 0);
        }
    }

    private byte[] decompress(Compressed c) throws IOException {
        if (c.hostOffset() == cachedCompressedHost) {
            return cachedCompressed;
        }
        byte[] src = new byte[c.maxBytes()];
        e.store().read(c.hostOffset(), ByteBuffer.wrap(src));
        byte[] out = new byte[g.clusterSize()];
        try {
            e.codec().decompress(src, src.length, out);
        } catch (IOException ex) {
            throw new CorruptImageException(e.file(), "compressed cluster", c.hostOffset(),
                    "data does not decompress with " + e.codec().name() + ": " + ex.getMessage(), ex);
        }
        cachedCompressedHost = c.hostOffset();
        cachedCompressed = out;
        return out;
    }

    /**
     * {@link #write}, with the data moved by {@code behind}'s threads when {@code src} covers
     * whole clusters: the clusters are looked up or allocated here (on the caller's thread, which
     * owns the metadata), the bytes go to the file on a pool thread, and the L2 entries that point
     * at newly allocated clusters are set only when their write has returned (data before the
     * table that refers to it). Partial clusters take the synchronous path (their copy-on-write
     * reads the current contents). {@code release} runs once {@code src} is no longer needed.
     * The caller drains {@code behind} before anything reads or changes these clusters.
     */
    void writeQueued(long guestOffset, ByteBuffer src, Runnable release, WriteBehind behind) throws IOException {
        int length = src.remaining();
        long end = guestOffset + length;
        boolean whole = g.isClusterAligned(guestOffset) && g.isClusterAligned(end);
        if (!whole || length == 0) {
            try {
                write(guestOffset, src);
            } finally {
                release.run();
            }
            return;
        }
        // One share for this loop and one per queued write: the last to finish releases src.
        AtomicInteger shares = new AtomicInteger(1);
        Runnable share = () -> {
            if (shares.decrementAndGet() == 0) {
                release.run();
            }
        };
        try {
            long pos = guestOffset;
            while (pos < end) {
                ClusterMap.WritableL2 l2 = map.l2ForWrite(pos);
                long tableEnd = (pos & ~((1L << g.l2CoverageBits()) - 1)) + (1L << g.l2CoverageBits());
                long stop = Math.min(end, tableEnd);
                while (pos < stop) {
                    ClusterDescriptor d = map.decode(l2.entries(), pos);
                    ByteBuffer part = src.slice((int) (pos - guestOffset), (int) (stop - pos));
                    int n;
                    shares.incrementAndGet();
                    if (d instanceof Normal nd && nd.copied()) {
                        n = queueInPlace(l2, pos, stop, nd, part, share, behind);
                    } else {
                        n = queueAllocating(l2, pos, stop, part, share, behind);
                    }
                    pos += n;
                }
            }
        } finally {
            share.run();
        }
    }

    /** As {@link #writeInPlace}, the bytes written by {@code behind}; no metadata changes. */
    private int queueInPlace(ClusterMap.WritableL2 l2, long pos, long end, Normal first, ByteBuffer part,
                             Runnable share, WriteBehind behind) throws IOException {
        long host = first.hostOffset();
        long p = pos + g.clusterSize();
        while (p < end) {
            ClusterDescriptor d = map.decode(l2.entries(), p);
            if (!(d instanceof Normal nd) || !nd.copied() || nd.hostOffset() != host + (p - pos)) {
                break;
            }
            p += g.clusterSize();
        }
        int n = (int) (p - pos);
        try {
            e.guard().checkData(host, n);
            long fileSize = e.store().size();
            if (host + n > fileSize) {
                throw new CorruptImageException(e.file(), "data cluster", Math.max(host, fileSize), "guest offset 0x"
                        + Long.toHexString(pos) + " maps past the end of the file (" + fileSize + " bytes)");
            }
        } catch (IOException | RuntimeException ex) {
            share.run();
            throw ex;
        }
        behind.submit(e.store(), host, part.slice(0, n), share, pos, pos + n, failure -> { });
        return n;
    }

    /**
     * How many clusters from {@code firstCluster} (the first included) one allocating write takes:
     * up to {@code end}, at most a write buffer's worth, and not into a cluster that can be
     * written in place (an owned one ends the run).
     */
    private int clustersToAllocate(ClusterMap.WritableL2 l2, long firstCluster, long end) throws IOException {
        int maxClusters = Math.max(1, MAX_WRITE_BUFFER / g.clusterSize());
        int clusters = 1;
        for (long p = firstCluster + g.clusterSize(); p < end && clusters < maxClusters; p += g.clusterSize()) {
            if (map.decode(l2.entries(), p) instanceof Normal nd && nd.copied()) {
                break;
            }
            clusters++;
        }
        return clusters;
    }

    /**
     * As {@link #writeAllocating} for whole clusters: the new clusters are allocated now (their
     * refcounts raised in memory), and the L2 entries point at them once the write returned; a
     * failed write gives them back (nothing refers to them).
     */
    private int queueAllocating(ClusterMap.WritableL2 l2, long pos, long end, ByteBuffer part, Runnable share,
                                WriteBehind behind) throws IOException {
        int clusters = clustersToAllocate(l2, pos, end);
        long p = pos + (long) clusters * g.clusterSize();
        int n = (int) (p - pos);
        int count = clusters;
        long host;
        try {
            host = e.allocator().allocate(clusters);
            e.guard().checkData(host, (long) clusters * g.clusterSize());
        } catch (IOException | RuntimeException ex) {
            share.run();
            throw ex;
        }
        int zeroBlock;
        try {
            zeroBlock = readsAsZeros(host) ? ZERO_BLOCK : 0;
        } catch (IOException | RuntimeException ex) {
            e.allocator().unallocate(host, count);
            share.run();
            throw ex;
        }
        behind.submit(e.store(), host, part.slice(0, n), zeroBlock, share, pos, pos + n, failure -> {
            if (failure != null) {
                e.allocator().unallocate(host, count); // nothing refers to them yet: no leak
                return;
            }
            for (int i = 0; i < count; i++) {
                long guest = pos + (long) i * g.clusterSize();
                // Looked up again: the table may have been written out and reloaded meanwhile.
                ClusterMap.WritableL2 table = map.l2ForWrite(guest);
                ClusterDescriptor old = map.decode(table.entries(), guest);
                map.set(table, guest, new Normal(host + (long) i * g.clusterSize(), true));
                map.release(old);
            }
        });
        return n;
    }

    void write(long guestOffset, ByteBuffer src) throws IOException {
        long pos = guestOffset;
        while (src.hasRemaining()) {
            ClusterMap.WritableL2 l2 = map.l2ForWrite(pos);
            long tableEnd = (pos & ~((1L << g.l2CoverageBits()) - 1)) + (1L << g.l2CoverageBits());
            long end = Math.min(pos + src.remaining(), tableEnd);
            while (pos < end) {
                ClusterDescriptor d = map.decode(l2.entries(), pos);
                int n;
                if (d instanceof Normal nd && nd.copied()) {
                    n = writeInPlace(l2, pos, end, nd, src);
                } else {
                    n = writeAllocating(l2, pos, end, src);
                }
                pos += n;
            }
        }
    }

    /** Writes into clusters this image owns alone, one I/O per contiguous host run. */
    private int writeInPlace(ClusterMap.WritableL2 l2, long pos, long end, Normal first, ByteBuffer src)
            throws IOException {
        long host = first.hostOffset() + g.offsetInCluster(pos);
        long p = g.clusterStart(pos) + g.clusterSize();
        while (p < end) {
            ClusterDescriptor d = map.decode(l2.entries(), p);
            if (!(d instanceof Normal nd) || !nd.copied()
                    || nd.hostOffset() != first.hostOffset() + (p - g.clusterStart(pos))) {
                break;
            }
            p += g.clusterSize();
        }
        int n = (int) (Math.min(p, end) - pos);
        e.guard().checkData(host, n);
        long fileSize = e.store().size();
        if (host + n > fileSize) {
            // An entry pointing past the end is damage: writing there would grow the file to
            // wherever it points (terabytes) and still leave the cluster's rest unwritten.
            throw new CorruptImageException(e.file(), "data cluster", Math.max(host, fileSize), "guest offset 0x"
                    + Long.toHexString(pos) + " maps past the end of the file (" + fileSize + " bytes)");
        }
        e.store().write(host, src.slice(src.position(), n));
        src.position(src.position() + n);
        return n;
    }

    /**
     * Allocates new clusters for a run that cannot be written in place, fills partial
     * clusters from the current guest view, writes the data, then points the L2 entries
     * at it and releases what they pointed at before.
     */
    private int writeAllocating(ClusterMap.WritableL2 l2, long pos, long end, ByteBuffer src) throws IOException {
        long firstCluster = g.clusterStart(pos);
        int clusters = clustersToAllocate(l2, firstCluster, end);
        long runEnd = Math.min(firstCluster + (long) clusters * g.clusterSize(), end);
        int n = (int) (runEnd - pos);
        int head = g.offsetInCluster(pos);
        long lastCluster = firstCluster + (long) (clusters - 1) * g.clusterSize();
        int tail = (int) (lastCluster + g.clusterSize() - runEnd);
        ByteBuffer out;
        if (head == 0 && tail == 0) {
            // Whole clusters (a copy, a convert, a commit): written from the caller's buffer,
            // without a new heap buffer to zero and fill.
            out = src.slice(src.position(), n);
        } else {
            byte[] buf = new byte[clusters * g.clusterSize()];
            if (head != 0) {
                read(firstCluster, ByteBuffer.wrap(buf, 0, g.clusterSize()));
            }
            if (tail != 0 && (clusters > 1 || head == 0)) {
                read(lastCluster, ByteBuffer.wrap(buf, (clusters - 1) * g.clusterSize(), g.clusterSize()));
            }
            src.get(src.position(), buf, head, n);
            out = ByteBuffer.wrap(buf);
        }
        long host = e.allocator().allocate(clusters);
        e.guard().checkData(host, (long) clusters * g.clusterSize());
        try {
            if (readsAsZeros(host)) {
                e.store().writeIntoZeros(host, out, ZERO_BLOCK);
            } else {
                e.store().write(host, out);
            }
        } catch (IOException full) {
            e.allocator().unallocate(host, clusters); // nothing refers to them yet: no leak
            throw full;
        }
        src.position(src.position() + n);
        for (int i = 0; i < clusters; i++) {
            long guest = firstCluster + (long) i * g.clusterSize();
            ClusterDescriptor old = map.decode(l2.entries(), guest);
            map.set(l2, guest, new Normal(host + (long) i * g.clusterSize(), true));
            map.release(old);
        }
        return n;
    }

    /**
     * Whether newly allocated clusters from {@code host} on read as zeros in the file: they lie
     * past its end (a free cluster inside the file may hold old bytes). Writes in flight only
     * grow the file, and never into these clusters, which are allocated to the caller alone.
     */
    private boolean readsAsZeros(long host) throws IOException {
        if (host < knownFileSize) {
            return false;
        }
        knownFileSize = e.store().size();
        return host >= knownFileSize;
    }

    /**
     * Makes a range read as zeros (or, with {@code discard}, drops its data). Whole clusters
     * change their L2 entries; partial clusters get zero bytes written (write-zeroes) or are
     * left alone (discard, as QEMU does).
     */
    void zeroOrDiscard(long guestOffset, long length, boolean discard) throws IOException {
        long end = guestOffset + length;
        long diskSize = e.header().size();
        long firstFull = alignUp(guestOffset);
        // A range that runs to the end of the disk covers its last, partial cluster whole (as QEMU).
        long lastFull = end == diskSize ? Math.max(firstFull, end) : Math.max(firstFull, g.clusterStart(end));
        boolean hasBacking = e.backing() != null;
        boolean v3 = e.header().version() >= 3;
        if (discard && !v3 && hasBacking) {
            return; // v2 has no zero clusters: QEMU's discard then changes nothing (measured on 7.2)
        }
        if (!discard) {
            writeZeroBytes(guestOffset, Math.min(end, firstFull));
            writeZeroBytes(Math.max(lastFull, guestOffset), end);
        }
        for (long pos = firstFull; pos < lastFull; pos += g.clusterSize()) {
            ClusterDescriptor target;
            if (!hasBacking) {
                target = discard ? ClusterDescriptor.UNALLOCATED : (v3 ? new Zero(0, false) : ClusterDescriptor.UNALLOCATED);
            } else if (v3) {
                target = new Zero(0, false);
            } else {
                // v2 over a backing file: no zero clusters, so write-zeroes writes zeros.
                writeZeroBytes(pos, Math.min(pos + g.clusterSize(), diskSize));
                continue;
            }
            long[] current = map.l2ForRead(pos);
            ClusterDescriptor old = current == null ? ClusterDescriptor.UNALLOCATED : map.decode(current, pos);
            if (old.equals(target)) {
                continue;
            }
            if (current == null && !hasBacking) {
                continue; // no table and no backing: already reads as zeros
            }
            ClusterMap.WritableL2 l2 = map.l2ForWrite(pos);
            old = map.decode(l2.entries(), pos);
            map.set(l2, pos, target);
            map.release(old);
        }
    }

    private void writeZeroBytes(long from, long to) throws IOException {
        if (to <= from) {
            return;
        }
        if (readsAsZero(from, to - from)) {
            return;
        }
        write(from, ByteBuffer.allocate((int) (to - from)));
    }

    private boolean readsAsZero(long pos, long length) throws IOException {
        BlockStatus s = blockStatus(pos, length);
        return s.lengthBytes() >= length && s.zero();
    }

    private long alignUp(long offset) {
        long start = g.clusterStart(offset);
        return start == offset ? offset : start + g.clusterSize();
    }

    /** Stores one whole guest cluster compressed (uncompressed when that is not smaller). */
    void writeCompressed(long guestOffset, byte[] cluster) throws IOException {
        byte[] out = new byte[g.clusterSize() - 1];
        writeCompressed(guestOffset, cluster, out, e.codec().compress(cluster, cluster.length, out));
    }

    /**
     * Stores {@code cluster}, already compressed by the image's codec into {@code out[0, len)}
     * ({@code len} -1: it did not shrink, stored as it is).
     */
    void writeCompressed(long guestOffset, byte[] cluster, byte[] out, int len) throws IOException {
        if (len < 0) {
            write(guestOffset, ByteBuffer.wrap(cluster));
            return;
        }
        // The L2 table first, then the fragment, as QEMU allocates them: the same layout as qemu-img's.
        ClusterMap.WritableL2 l2 = map.l2ForWrite(guestOffset);
        long host = e.allocator().allocateCompressed(len);
        e.guard().checkData(host, len);
        try {
            e.store().write(host, ByteBuffer.wrap(out, 0, len));
        } catch (IOException full) {
            e.allocator().unallocateCompressed(host, len);
            throw full;
        }
        ClusterDescriptor old = map.decode(l2.entries(), guestOffset);
        map.set(l2, guestOffset, ClusterDescriptor.compressed(host, len));
        map.release(old);
        if (host == cachedCompressedHost) {
            cachedCompressedHost = -1;
        }
    }

    BlockStatus blockStatus(long guestOffset, long maxLength) throws IOException {
        ClusterMap.Run run = map.run(guestOffset, maxLength);
        long n = run.lengthBytes();
        return switch (run.first()) {
            case Normal nd -> e.preallocation().refine(
                    new BlockStatus(n, 0, true, false, true, false, run.hostOffset(), e.file()));
            case Zero z -> new BlockStatus(n, 0, true, true, false, false, run.hostOffset(), e.file());
            case Compressed c -> new BlockStatus(n, 0, true, false, true, true, -1, e.file());
            case Unallocated u -> unallocatedStatus(guestOffset, n, run.hostOffset());
            case ClusterDescriptor.Invalid inv -> throw new IllegalStateException("decoded invalid entry");
            case ClusterDescriptor.Subclustered s -> throw new IllegalStateException("runs resolve subclusters");
        };
    }

    /**
     * Where this file holds nothing: the backing file's answer, or zeros of this layer. An
     * unallocated subcluster of an allocated cluster ({@code hostOffset} not -1) keeps its
     * offset in the zeros answer, as QEMU reports it (qemu-img map prints it).
     */
    private BlockStatus unallocatedStatus(long guestOffset, long n, long hostOffset) throws IOException {
        BlockDevice backing = e.backing();
        java.nio.file.Path file = hostOffset >= 0 ? e.file() : null;
        if (backing == null) {
            return new BlockStatus(n, 0, false, true, false, false, hostOffset, file);
        }
        if (guestOffset >= backing.size()) {
            // Past a short backing file the zeros are this layer's own (qemu-img map: depth 0 here).
            return new BlockStatus(n, 0, false, true, false, false, hostOffset, file);
        }
        BlockStatus b = backing.blockStatus(guestOffset, Math.min(n, backing.size() - guestOffset));
        return b.withDepthAndLength(b.depth() + 1, b.lengthBytes());
    }
}
