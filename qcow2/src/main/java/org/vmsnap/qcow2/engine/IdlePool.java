package org.vmsnap.qcow2.engine;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Consumer;

/**
 * Compression state kept from one cluster to the next (zlib's costs ~256 KiB to allocate and clear
 * per cluster of a {@code convert -c}): any thread takes one and gives it back when done; at most
 * {@value #MAX} stay idle (more than the 16 threads of {@code -m} never are), the rest are
 * discarded.
 */
final class IdlePool<T> {
    static final int MAX = 16;

    private final ConcurrentLinkedQueue<T> idle = new ConcurrentLinkedQueue<>();
    private final Consumer<T> discard;

    IdlePool(Consumer<T> discard) {
        this.discard = discard;
    }

    /** An idle one, or null. */
    T poll() {
        return idle.poll();
    }

    /** Kept for the next taker, or discarded when {@value #MAX} are idle already. */
    void giveBack(T t) {
        if (idle.size() < MAX) {
            idle.offer(t);
        } else {
            discard.accept(t);
        }
    }
}
