package org.vmsnap.qmp;

/**
 * Waits that must not be cut short by an interrupt (closing a client must see its reader
 * thread end; starting QEMU detached must see its launcher exit), with the interrupt kept
 * for the caller: one implementation of that rule for the module.
 */
final class Uninterruptibly {
    private Uninterruptibly() {
    }

    /** Waits until {@code thread} has ended; re-asserts an interrupt that came meanwhile. */
    static void join(Thread thread) {
        boolean interrupted = false;
        while (thread.isAlive()) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** Waits until {@code process} has exited; re-asserts an interrupt that came meanwhile. */
    static void waitFor(Process process) {
        boolean interrupted = false;
        while (true) {
            try {
                process.waitFor();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
