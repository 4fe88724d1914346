package org.vmsnap.cli;

import java.io.IOException;
import java.util.concurrent.CountDownLatch;

/**
 * How a long-running command (serve, daemon) keeps its servers: a shutdown hook closes them on
 * SIGINT or SIGTERM (the JVM then ends), and {@link #await} closes them itself when the command
 * is interrupted in process (tests). Closed in the order given; an error closing one is printed
 * and the rest are still closed.
 */
final class UntilSignal {
    /** A server to close. */
    interface Resource {
        void close() throws IOException;
    }

    private final Resource[] resources;
    private final Thread hook;
    private final CountDownLatch ended = new CountDownLatch(1);

    private UntilSignal(String name, Resource[] resources) {
        this.resources = resources;
        this.hook = new Thread(this::closeQuietly, name);
    }

    /** Registers the hook that closes {@code resources} (nulls are skipped). */
    static UntilSignal closing(String hookName, Resource... resources) {
        UntilSignal s = new UntilSignal(hookName, resources);
        Runtime.getRuntime().addShutdownHook(s.hook);
        return s;
    }

    /**
     * Waits for a signal (the hook then closes everything), an interrupt or {@link #end} (then
     * closes here).
     */
    void await() throws IOException {
        try {
            ended.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            Runtime.getRuntime().removeShutdownHook(hook);
            IOException first = closeAll();
            if (first != null) {
                throw first;
            }
        }
    }

    /** Lets {@link #await} close everything and return, as a signal would (the daemon's idle exit). */
    void end() {
        ended.countDown();
    }

    private void closeQuietly() {
        IOException first = closeAll();
        if (first != null) {
            System.err.println("vmsnap: " + first.getMessage());
        }
    }

    /** Closes every resource; the first error, or null. */
    private IOException closeAll() {
        IOException first = null;
        for (Resource r : resources) {
            try {
                if (r != null) {
                    r.close();
                }
            } catch (IOException e) {
                first = first == null ? e : first;
            }
        }
        return first;
    }
}
