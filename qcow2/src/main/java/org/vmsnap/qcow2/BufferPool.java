package org.vmsnap.qcow2;

import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A fixed set of direct buffers for a copy whose writes end on other threads: a buffer comes
 * back when its last write ended, and taking one waits while all are in flight, which bounds
 * the memory a copy holds (threads + 2 buffers). Direct: file reads and writes then need no
 * copy through a temporary native buffer.
 */
final class BufferPool {
    private final BlockingQueue<ByteBuffer> free;
    private final int bufferBytes;

    BufferPool(int buffers, int bufferBytes) {
        this.free = new ArrayBlockingQueue<>(buffers);
        this.bufferBytes = bufferBytes;
        for (int i = 0; i < buffers; i++) {
            free.add(ByteBuffer.allocateDirect(bufferBytes));
        }
    }

    int bufferBytes() {
        return bufferBytes;
    }

    /** A cleared buffer; waits until one is free. */
    ByteBuffer take() throws InterruptedIOException {
        try {
            return free.take().clear();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for a copy buffer");
        }
    }

    void give(ByteBuffer b) {
        free.add(b);
    }

    /**
     * One buffer shared by several queued writes: {@link #share} before each, and the returned
     * runnable once per share; the buffer goes back to the pool after the holder's own share
     * ({@link #done}) and every write's.
     */
    final class Held {
        private final ByteBuffer buffer;
        private final AtomicInteger shares = new AtomicInteger(1);

        Held(ByteBuffer buffer) {
            this.buffer = buffer;
        }

        ByteBuffer buffer() {
            return buffer;
        }

        Runnable share() {
            shares.incrementAndGet();
            return this::done;
        }

        void done() {
            if (shares.decrementAndGet() == 0) {
                give(buffer);
            }
        }
    }

    Held hold(ByteBuffer b) {
        return new Held(b);
    }
}
