package org.vmsnap.qcow2.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Test helper for crash injection: wraps a store and "loses power" at the Nth changing
 * operation. Changing operations are write, truncate, punchHole and flush, counted from 1.
 * The Nth one fails without effect, and from then on every changing operation throws
 * IOException; reads still work (the process does not know yet).
 *
 * <p>{@link #crashImage()} is what a disk would hold after the power came back: the state at
 * the last successful flush (the wrapped store's contents at construction count as flushed),
 * plus, when a seed was given, a seeded random subset of the operations after that flush,
 * in their order (a disk may persist any of them, in any combination, before a flush).
 *
 * <p>To find how many operations a run makes, run it once with {@link #NEVER} and read
 * {@link #operations()}; then rerun with each failAt from 1 to that count.
 */
public final class FaultyBlockStore implements BlockStore {

    /** failAt value for a store that never fails (it still counts operations). */
    public static final long NEVER = Long.MAX_VALUE;

    private final BlockStore inner;
    private final long failAt;
    private final Long seed;                 // null: only flushed state survives
    private final MemoryBlockStore durable;  // the contents as of the last flush
    private final List<Change> unflushed = new ArrayList<>();
    private long operations;
    private boolean failed;

    /** Fails at operation failAt; the crash image holds exactly the flushed state. */
    public FaultyBlockStore(BlockStore inner, long failAt) throws IOException {
        this(inner, failAt, null);
    }

    /** Fails at operation failAt; the crash image also keeps a random subset of unflushed changes. */
    public FaultyBlockStore(BlockStore inner, long failAt, long seed) throws IOException {
        this(inner, failAt, Long.valueOf(seed));
    }

    private FaultyBlockStore(BlockStore inner, long failAt, Long seed) throws IOException {
        if (failAt < 1) {
            throw new IllegalArgumentException("failAt counts from 1: " + failAt);
        }
        this.inner = inner;
        this.failAt = failAt;
        this.seed = seed;
        this.durable = MemoryBlockStore.copyOf(inner);
    }

    /** Changing operations attempted so far, including the failed one. */
    public synchronized long operations() {
        return operations;
    }

    /** True once the power has been lost. */
    public synchronized boolean hasFailed() {
        return failed;
    }

    /** A fresh store with the contents that survive the crash (same result for every call). */
    public synchronized MemoryBlockStore crashImage() throws IOException {
        MemoryBlockStore image = MemoryBlockStore.copyOf(durable);
        if (seed != null) {
            Random random = new Random(seed);
            for (Change change : unflushed) {
                if (random.nextBoolean()) {
                    change.applyTo(image);
                }
            }
        }
        return image;
    }

    @Override
    public Path path() {
        return inner.path();
    }

    @Override
    public long size() throws IOException {
        return inner.size();
    }

    @Override
    public void read(long hostOffset, ByteBuffer dst) throws IOException {
        inner.read(hostOffset, dst);
    }

    @Override
    public synchronized void write(long hostOffset, ByteBuffer src) throws IOException {
        count("write at 0x" + Long.toHexString(hostOffset));
        byte[] data = new byte[src.remaining()];
        src.duplicate().get(data);
        inner.write(hostOffset, src);
        unflushed.add(store -> store.write(hostOffset, ByteBuffer.wrap(data)));
    }

    @Override
    public synchronized void truncate(long sizeBytes) throws IOException {
        count("truncate to " + sizeBytes);
        inner.truncate(sizeBytes);
        unflushed.add(store -> store.truncate(sizeBytes));
    }

    @Override
    public synchronized void flush() throws IOException {
        count("flush");
        inner.flush();
        for (Change change : unflushed) {
            change.applyTo(durable);
        }
        unflushed.clear();
    }

    @Override
    public synchronized boolean punchHole(long hostOffset, long lengthBytes) throws IOException {
        count("punch hole at 0x" + Long.toHexString(hostOffset));
        boolean punched = inner.punchHole(hostOffset, lengthBytes);
        if (punched) {
            unflushed.add(store -> store.punchHole(hostOffset, lengthBytes));
        }
        return punched;
    }

    @Override
    public long allocatedBytes() throws IOException {
        return inner.allocatedBytes();
    }

    @Override
    public long nextData(long hostOffset) throws IOException {
        return inner.nextData(hostOffset);
    }

    @Override
    public long nextHole(long hostOffset) throws IOException {
        return inner.nextHole(hostOffset);
    }

    @Override
    public boolean isReadOnly() {
        return inner.isReadOnly();
    }

    @Override
    public void close() throws IOException {
        inner.close();
    }

    @Override
    public String toString() {
        return "FaultyBlockStore[" + inner + ", fail at " + failAt + ", " + operations + " operations]";
    }

    private void count(String what) throws IOException {
        if (failed) {
            throw new IOException(path() + ": " + what + " after simulated power loss at operation " + failAt);
        }
        operations++;
        if (operations == failAt) {
            failed = true;
            throw new IOException(path() + ": simulated power loss at operation " + failAt + " (" + what + ")");
        }
    }

    /** One change not yet flushed, replayable on a memory store. */
    private interface Change {
        void applyTo(MemoryBlockStore store) throws IOException;
    }
}
