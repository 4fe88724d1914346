package org.vmsnap.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The backing chain below an image, as one read-only device: what the image's engine
 * reads where its own clusters are unallocated.
 *
 * <p>Layer 0 is the image's backing file, layer 1 that file's backing file, and so on.
 * Each layer is opened on its own, without its backing file, so its block status answers
 * for that file alone; this view decides which layer holds a range. Only the last layer may
 * be opened with its own chain ({@code lastAnswersBelow}: a commit target, writable, whose
 * copy-on-write needs its backing file); its answer then covers everything below it.
 *
 * <p>Why not let every image ask its backing file: then one lookup at the top of an
 * N-deep chain walks N engines, for every run, again and again. Here each layer keeps the
 * run it answered last (its status and where the run ends), so a sequential pass over the
 * disk asks each file about each of its own runs once, and a lookup that falls through
 * many layers costs one range test per layer. The layers below an image do not change
 * while it is open (QEMU's rule for backing files), except a writable last layer, whose
 * answers are never cached.
 */
final class ChainView implements BlockDevice {
    private final List<BlockDevice> layers;
    private final boolean lastAnswersBelow;
    private final long[] sizes;
    /** Per layer: the last run it answered, [runStart, runEnd) with its status at runStart. */
    private final long[] runStart;
    private final long[] runEnd;
    private final BlockStatus[] runStatus;
    /** Lookups in [skipFrom, skipUntil) may start at layer skipLayers (see blockStatus). */
    private long skipFrom = -1;
    private long skipUntil = -1;
    private int skipLayers;
    private boolean closed;

    ChainView(List<BlockDevice> layers, boolean lastAnswersBelow) {
        if (layers.isEmpty()) {
            throw new IllegalArgumentException("a chain view needs at least one layer");
        }
        this.layers = List.copyOf(layers);
        this.lastAnswersBelow = lastAnswersBelow;
        int n = layers.size();
        this.sizes = new long[n];
        for (int i = 0; i < n; i++) {
            sizes[i] = layers.get(i).size();
        }
        this.runStart = new long[n];
        this.runEnd = new long[n];
        this.runStatus = new BlockStatus[n];
    }

    /** The layers, top (the image's backing file) first. */
    List<BlockDevice> layers() {
        return layers;
    }

    @Override
    public Path path() {
        return layers.getFirst().path();
    }

    @Override
    public String format() {
        return layers.getFirst().format();
    }

    @Override
    public long size() {
        return sizes[0];
    }

    @Override
    public boolean isReadOnly() {
        return true;
    }

    /**
     * The status of the chain at {@code guestOffset}; depth 0 is the first layer. Past the
     * end of a layer that is shorter than the one above, the zeros belong to the layer
     * above (qemu-img map reports its depth, not present).
     */
    @Override
    public BlockStatus blockStatus(long guestOffset, long maxLengthBytes) throws IOException {
        checkRead(guestOffset, maxLengthBytes);
        long limit = guestOffset + Math.min(maxLengthBytes, sizes[0] - guestOffset);
        int last = layers.size() - 1;
        int j = 0;
        // The layers above skipLayers were all unallocated from skipFrom to skipUntil when the
        // last lookup passed them; a lookup further on inside that stretch starts below them.
        if (guestOffset >= skipFrom && guestOffset < skipUntil) {
            j = skipLayers;
            limit = Math.min(limit, skipUntil);
        }
        for (; j <= last; j++) {
            if (j > 0 && guestOffset >= sizes[j]) {
                remember(guestOffset, limit, j);
                return zerosOf(j - 1, guestOffset, limit);
            }
            limit = Math.min(limit, sizes[j]);
            if (j == last && lastAnswersBelow) {
                remember(guestOffset, limit, j);
                BlockStatus s = layers.get(j).blockStatus(guestOffset, limit - guestOffset);
                return s.withDepthAndLength(s.depth() + j, s.lengthBytes());
            }
            BlockStatus own = ownRun(j, guestOffset);
            long ownEnd = runEnd[j];
            if (own.present()) {
                remember(guestOffset, limit, j);
                long shift = guestOffset - runStart[j];
                long host = own.hostOffset() < 0 ? -1 : own.hostOffset() + shift;
                return new BlockStatus(Math.min(ownEnd, limit) - guestOffset, j, true, own.zero(), own.data(),
                        own.compressed(), host, own.file());
            }
            limit = Math.min(limit, ownEnd);
        }
        // Unallocated in every layer: zeros, decided by the bottom layer.
        remember(guestOffset, limit, last + 1);
        return zerosOf(last, guestOffset, limit);
    }

    /**
     * Zeros that layer {@code j} decides (nothing below it there). QEMU keeps the host offset
     * of an unallocated subcluster of an allocated cluster in that answer, so it does too.
     */
    private BlockStatus zerosOf(int j, long guestOffset, long limit) throws IOException {
        BlockStatus own = ownRun(j, guestOffset);
        long host = own.hostOffset() < 0 ? -1 : own.hostOffset() + (guestOffset - runStart[j]);
        return new BlockStatus(limit - guestOffset, j, false, true, false, false, host, host < 0 ? null : own.file());
    }

    /**
     * Records that the layers above {@code layer} are unallocated from {@code from} up to
     * {@code until} (the earliest end of their runs; it never passes a layer's end, since a
     * layer's run does not). The caller's own limit may be shorter than that; it is only a
     * lower bound here, which is safe.
     */
    private void remember(long from, long until, int layer) {
        skipFrom = from;
        skipUntil = layer == 0 ? from : until;
        skipLayers = layer;
    }

    /** Layer j's own status at {@code guestOffset}, from its cached run when that covers it. */
    private BlockStatus ownRun(int j, long guestOffset) throws IOException {
        BlockStatus cached = runStatus[j];
        if (cached != null && guestOffset >= runStart[j] && guestOffset < runEnd[j]) {
            return cached;
        }
        BlockStatus s = layers.get(j).blockStatus(guestOffset, sizes[j] - guestOffset);
        runStart[j] = guestOffset;
        runEnd[j] = guestOffset + s.lengthBytes();
        runStatus[j] = s;
        return s;
    }

    /** Reads each run from the layer that holds it (zeros where none does). */
    @Override
    public void read(long guestOffset, ByteBuffer dst) throws IOException {
        checkRead(guestOffset, Math.max(1, dst.remaining()));
        if (dst.remaining() > sizes[0] - guestOffset) {
            throw new IllegalArgumentException(path() + ": read past the end of the backing chain");
        }
        long pos = guestOffset;
        int last = layers.size() - 1;
        while (dst.hasRemaining()) {
            BlockStatus s = blockStatus(pos, dst.remaining());
            int n = (int) s.lengthBytes();
            ByteBuffer part = dst.slice(dst.position(), n);
            if (!s.present() || s.zero()) {
                fillZero(part);
            } else {
                layers.get(Math.min(s.depth(), last)).read(pos, part);
            }
            dst.position(dst.position() + n);
            pos += n;
        }
    }

    private static void fillZero(ByteBuffer b) {
        ByteBuffer d = b.duplicate();
        while (d.remaining() >= Long.BYTES) {
            d.putLong(0);
        }
        while (d.hasRemaining()) {
            d.put((byte) 0);
        }
    }

    private void checkRead(long guestOffset, long length) {
        if (closed) {
            throw new IllegalStateException(path() + ": backing chain is closed");
        }
        if (length <= 0 || guestOffset < 0 || guestOffset >= sizes[0]) {
            throw new IllegalArgumentException(path() + ": range " + ImageException.hex(guestOffset) + "+" + length
                    + " outside the backing file (" + sizes[0] + " bytes)");
        }
    }

    @Override
    public void write(long guestOffset, ByteBuffer src) {
        throw readOnly();
    }

    @Override
    public void writeZeroes(long guestOffset, long lengthBytes) {
        throw readOnly();
    }

    @Override
    public void discard(long guestOffset, long lengthBytes) {
        throw readOnly();
    }

    private IllegalStateException readOnly() {
        return new IllegalStateException(path() + ": a backing chain is read through its image, never written");
    }

    @Override
    public void flush() {
        // read-only: nothing to make durable
    }

    @Override
    public long allocatedFileBytes() throws IOException {
        return layers.getFirst().allocatedFileBytes();
    }

    /** Closes every layer, bottom first; the first failure is thrown after all were tried. */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        closeAll(new ArrayList<>(layers));
    }

    /** Closes devices last to first, throwing the first failure with the rest suppressed. */
    static void closeAll(List<? extends BlockDevice> devices) throws IOException {
        IOException failure = null;
        for (int i = devices.size() - 1; i >= 0; i--) {
            try {
                devices.get(i).close();
            } catch (IOException | RuntimeException e) {
                IOException io = e instanceof IOException x ? x : new IOException(e);
                if (failure == null) {
                    failure = io;
                } else {
                    failure.addSuppressed(io);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}
