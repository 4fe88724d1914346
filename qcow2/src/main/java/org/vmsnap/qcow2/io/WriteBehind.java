package org.vmsnap.qcow2.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.FileSystemException;
import java.util.ArrayDeque;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Positional data writes in flight on a few threads, completed in the order they were queued,
 * on the thread that queued them.
 *
 * <p>Why: one {@code pwrite} at a time leaves the second core idle and the kernel waiting for
 * the next request between calls; qemu-img keeps several requests in flight (8 coroutines and
 * a pool of I/O threads). Only the data moves on the pool's threads: the thread that owns an
 * image's metadata queues a write and runs its {@link Completion} (the L2 entries that point
 * at the new data) only after the write returned, so data reaches the file before any table
 * that refers to it, as on the synchronous path.
 *
 * <p>Not thread-safe itself: one thread queues and completes; the pool only writes.
 */
public final class WriteBehind implements AutoCloseable {

    /** What to do once a queued write ended; runs on the queuing thread. */
    @FunctionalInterface
    public interface Completion {
        /** {@code failure} is null when the write succeeded. */
        void done(IOException failure) throws IOException;
    }

    private record Pending(Future<IOException> result, Completion completion, long guestStart, long guestEnd) {
    }

    private static final AtomicInteger POOLS = new AtomicInteger();

    private final ExecutorService pool;
    private final int maxInFlight;
    private final ArrayDeque<Pending> queue = new ArrayDeque<>();
    /** The guest bytes of the writes in flight lie in [lowest, highest). */
    private long lowest = Long.MAX_VALUE;
    private long highest = Long.MIN_VALUE;
    private boolean closed;

    /** {@code threads} writes at most in flight at once (at least 1). */
    public WriteBehind(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads " + threads);
        }
        this.maxInFlight = threads;
        int id = POOLS.incrementAndGet();
        AtomicInteger n = new AtomicInteger();
        this.pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "vmsnap-write-" + id + "-" + n.incrementAndGet());
            t.setDaemon(true); // a pool left behind by a failing caller must not keep the JVM alive
            return t;
        });
    }

    /** Writes at most in flight. */
    public int threads() {
        return maxInFlight;
    }

    /**
     * Queues {@code store.write(hostOffset, data)} for the guest range {@code [guestStart,
     * guestEnd)}; {@code release} runs (on a pool thread) once the write no longer needs
     * {@code data}, whether it succeeded or not. When {@link #threads} writes are in flight,
     * waits for the oldest and completes it first. A failure of an earlier write is thrown
     * here (after every write in flight was completed).
     */
    public void submit(BlockStore store, long hostOffset, ByteBuffer data, Runnable release, long guestStart,
                       long guestEnd, Completion completion) throws IOException {
        submit(store, hostOffset, data, 0, release, guestStart, guestEnd, completion);
    }

    /**
     * As above; {@code zeroBlock} &gt; 0: the host range reads as zeros before the write, and the
     * write is {@link BlockStore#writeIntoZeros} with blocks of that size.
     */
    public void submit(BlockStore store, long hostOffset, ByteBuffer data, int zeroBlock, Runnable release,
                       long guestStart, long guestEnd, Completion completion) throws IOException {
        if (closed) {
            release.run();
            throw new IllegalStateException(store.path() + ": write-behind is closed");
        }
        try {
            while (queue.size() >= maxInFlight || (!queue.isEmpty() && queue.peek().result().isDone())) {
                completeOldest();
            }
        } catch (IOException | RuntimeException e) {
            release.run();
            throw e;
        }
        Future<IOException> f;
        try {
            f = pool.submit(() -> {
                try {
                    if (zeroBlock > 0) {
                        store.writeIntoZeros(hostOffset, data, zeroBlock);
                    } else {
                        store.write(hostOffset, data);
                    }
                    return null;
                } catch (IOException e) {
                    return named(store, e, guestStart, hostOffset);
                } catch (RuntimeException | Error e) {
                    return new IOException(store.path() + ": write at host offset 0x"
                            + Long.toHexString(hostOffset) + " failed: " + e, e);
                } finally {
                    release.run();
                }
            });
        } catch (RuntimeException e) {
            release.run();
            throw e;
        }
        queue.add(new Pending(f, completion, guestStart, guestEnd));
        lowest = Math.min(lowest, guestStart);
        highest = Math.max(highest, guestEnd);
    }

    /**
     * The write-behind an image uses after asking for {@code threads} writes in flight: {@code old}
     * when it has as many, else a new one ({@code old} completed and closed first); null (writes
     * synchronous again) for 1 or less, or for an image opened read-only.
     */
    public static WriteBehind resize(WriteBehind old, int threads, boolean readOnly) throws IOException {
        if (old != null && old.threads() == threads) {
            return old;
        }
        if (old != null) {
            old.close();
        }
        return threads > 1 && !readOnly ? new WriteBehind(threads) : null;
    }

    /** Waits for the writes in flight when one may touch guest bytes of {@code [start, +length)}. */
    public void settle(long start, long length) throws IOException {
        if (overlaps(start, start + Math.max(1, length))) {
            drain();
        }
    }

    /** Whether a write in flight may touch guest bytes of {@code [start, end)}. */
    public boolean overlaps(long start, long end) {
        return !queue.isEmpty() && start < highest && end > lowest;
    }

    public boolean isEmpty() {
        return queue.isEmpty();
    }

    /**
     * Waits for every write in flight and completes each, oldest first. When one failed, the
     * others are still completed (their data and metadata stay consistent) and the first
     * failure is thrown.
     */
    public void drain() throws IOException {
        while (!queue.isEmpty()) {
            completeOldest();
        }
    }

    private void completeOldest() throws IOException {
        IOException first = completeOne(queue.poll());
        if (first != null) {
            while (!queue.isEmpty()) {
                IOException next = completeOne(queue.poll());
                if (next != null && next != first) {
                    first.addSuppressed(next);
                }
            }
            throw first;
        }
        if (queue.isEmpty()) {
            lowest = Long.MAX_VALUE;
            highest = Long.MIN_VALUE;
        }
    }

    /** Waits for one write and runs its completion; returns its failure, or the completion's. */
    private static IOException completeOne(Pending p) {
        IOException failure = await(p.result());
        try {
            p.completion().done(failure);
        } catch (IOException e) {
            if (failure == null) {
                failure = e;
            } else if (e != failure) {
                failure.addSuppressed(e);
            }
        }
        return failure;
    }

    /** The write's outcome; waits through interrupts (the write is in flight either way). */
    private static IOException await(Future<IOException> f) {
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return f.get();
                } catch (InterruptedException e) {
                    interrupted = true;
                } catch (ExecutionException e) {
                    return new IOException(e.getCause());
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * The store's error with the guest and host offsets added: the one error line names the file,
     * the reason (ENOSPC, EIO...) and where.
     */
    private static IOException named(BlockStore store, IOException e, long guestOffset, long hostOffset) {
        String where = " (writing guest offset 0x" + Long.toHexString(guestOffset) + " at host offset 0x"
                + Long.toHexString(hostOffset) + ")";
        String reason = e instanceof FileSystemException fs && fs.getReason() != null ? fs.getReason()
                : e.getMessage();
        FileSystemException n = new FileSystemException(store.path().toString(), null, reason + where);
        n.initCause(e);
        return n;
    }

    /** Completes what is in flight (the first failure is thrown) and stops the threads. */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        try {
            drain();
        } finally {
            closed = true;
            pool.shutdown();
        }
    }
}
