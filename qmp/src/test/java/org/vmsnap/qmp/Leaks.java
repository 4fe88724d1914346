package org.vmsnap.qmp;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

/** Checks that the code under test left no thread of its own running. */
final class Leaks {

    private Leaks() {
    }

    /** Threads named by this package ("vmsnap-..."), after up to 5 s for them to end. */
    static void assertNoVmsnapThreads() throws InterruptedException {
        long deadline = System.nanoTime() + 5_000_000_000L;
        List<String> alive;
        do {
            alive = Thread.getAllStackTraces().keySet().stream()
                    .filter(Thread::isAlive)
                    .map(Thread::getName)
                    .filter(n -> n.startsWith("vmsnap-"))
                    .toList();
            if (alive.isEmpty()) {
                return;
            }
            Thread.sleep(20);
        } while (System.nanoTime() < deadline);
        assertThat(alive).as("threads left behind").isEmpty();
    }
}
