package org.vmsnap.cli.daemon;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.function.Consumer;
import java.util.stream.Stream;

import org.vmsnap.cli.Main;

/**
 * A daemon's warm-up ({@code vmsnap daemon --warm-up}): the short img verbs it serves, run on a
 * scratch image in a folder it makes for that, so that the JIT has compiled them before a client's
 * first command; the launcher's own daemon starts so. Measured without it: the first
 * {@code img snapshot -c} a fresh daemon served took 0.26 s, the next ones 0.05-0.1 s, then
 * 0.03 s. It touches nothing but its own folder, which it removes with its scratch image's record
 * among the verified images; {@link #stop} ends it between two commands (the daemon's stop waits
 * for that, so nothing is left behind).
 */
final class WarmUp implements Runnable {
    /** Rounds of create, list, info, apply and delete of a snapshot on the scratch image. */
    static final int ROUNDS = 40;

    private final Consumer<String> log;
    private volatile boolean stopping;
    private final Thread thread;

    private WarmUp(Consumer<String> log) {
        this.log = log;
        this.thread = Thread.ofPlatform().name("vmsnap-daemon-warm-up").daemon().unstarted(this);
    }

    /** Starts the warm-up on a thread of its own. */
    static WarmUp start(Consumer<String> log) {
        WarmUp w = new WarmUp(log);
        w.thread.start();
        return w;
    }

    /** Ends it after the command it runs, and waits for its folder to be gone (30 s at most). */
    void stop() {
        stopping = true;
        try {
            thread.join(30_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void run() {
        long t0 = System.nanoTime();
        Path dir = null;
        try {
            dir = Files.createTempDirectory("vmsnap-daemon-warm-up-");
            String image = dir.resolve("scratch.qcow2").toString();
            PrintWriter none = new PrintWriter(Writer.nullWriter());
            // Preallocated metadata: the L2 tables and refcount blocks the write-open check walks.
            if (Main.run(none, none, "img", "create", "-q", "-f", "qcow2", "-o", "preallocation=metadata", image,
                    "1G") != 0) {
                log.accept("warm-up: img create failed; no warm-up");
                return;
            }
            int rounds = 0;
            for (; rounds < ROUNDS && !stopping; rounds++) {
                for (String[] args : new String[][] {{"img", "snapshot", "-c", "w", image},
                        {"img", "snapshot", "-l", image}, {"img", "info", image},
                        {"img", "snapshot", "-a", "w", image}, {"img", "snapshot", "-d", "w", image}}) {
                    Main.run(none, none, args);
                }
            }
            log.accept("warm-up: " + rounds + " rounds in " + (System.nanoTime() - t0) / 1_000_000 + " ms");
        } catch (IOException | RuntimeException e) {
            log.accept("warm-up: " + e);
        } finally {
            if (dir != null) {
                removeOwn(dir);
            }
        }
    }

    /**
     * Removes the folder this warm-up made, and what it made in it (and the scratch image's record
     * among the state folder's verified images, which would match nothing once it is gone).
     */
    private void removeOwn(Path dir) {
        try (Stream<Path> all = Files.walk(dir)) {
            for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
                org.vmsnap.qcow2.VerifiedImages.forget(p);
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            log.accept("warm-up: could not remove " + dir + ": " + e.getMessage());
        }
    }
}
