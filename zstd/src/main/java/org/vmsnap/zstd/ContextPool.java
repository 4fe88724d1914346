package org.vmsnap.zstd;

import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * A small bounded pool of zstd native contexts. A context holds native buffers (a decoder
 * keeps its window buffer between frames), so making one per cluster would cost an
 * allocation and a free per cluster; sharing one between threads is not allowed by zstd.
 * A context is used by one thread between {@link #take()} and {@link #give(AutoCloseable)}.
 */
final class ContextPool<C extends AutoCloseable> {

    /** Idle contexts kept at most; more are closed on return (enough for a few I/O threads). */
    static final int MAX_IDLE_CONTEXTS = 8;

    private final ConcurrentLinkedDeque<C> idle = new ConcurrentLinkedDeque<>();
    private final AtomicInteger idleCount = new AtomicInteger();
    private final Supplier<C> factory;

    ContextPool(Supplier<C> factory) {
        this.factory = factory;
    }

    C take() {
        C context = idle.pollFirst();
        if (context == null) {
            return factory.get();
        }
        idleCount.decrementAndGet();
        return context;
    }

    void give(C context) {
        if (idleCount.incrementAndGet() <= MAX_IDLE_CONTEXTS) {
            idle.offerFirst(context);
            return;
        }
        idleCount.decrementAndGet();
        close(context);
    }

    /** Drops a context that may be in an unknown state (after a native error). */
    void discard(C context) {
        close(context);
    }

    private static void close(AutoCloseable context) {
        try {
            context.close();
        } catch (Exception ignored) {
            // zstd-jni's close() only frees native memory; nothing useful to report.
        }
    }
}
