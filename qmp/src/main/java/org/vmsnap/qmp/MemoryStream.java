package org.vmsnap.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Saves a VM's memory and device state through vmsnap into a {@link MemoryFile}, and loads it back.
 *
 * <p>Save: vmsnap listens on a UNIX socket, QEMU migrates to it ({@code migrate} with a
 * {@code unix:} URI), and a {@link MemoryFileWriter} compresses the stream in frames on several
 * threads. Restore: QEMU started with {@code -incoming defer} listens ({@code migrate-incoming}),
 * vmsnap connects and feeds it the stream of a file already verified whole. No shell pipe, no
 * {@code exec:} URI (which failed under {@code -daemonize} on QEMU 7.2), no {@code file:} URI
 * (QEMU 8.2+).
 */
public final class MemoryStream {

    /**
     * QEMU 7.2 caps migration at 128 MiB/s unless told otherwise; to a local socket that
     * only slows the save down. 1 TiB/s is far above any real rate and within QEMU's limit.
     */
    private static final long MAX_BANDWIDTH = 1L << 40;

    private static final Duration STEP_TIMEOUT = Duration.ofSeconds(30);

    private MemoryStream() {
    }

    /** What a save or restore moved: QEMU's stream length, the file's length, the time. */
    public record Figures(long streamBytes, long fileBytes, Duration elapsed) {
    }

    /** Something that writes a migration stream into a channel (a verified file, a decompressor). */
    @FunctionalInterface
    public interface StreamSource {
        /** Writes the whole stream; returns its length. */
        long writeTo(java.nio.channels.WritableByteChannel out) throws IOException;
    }

    /**
     * Saves the VM's state into a new memory file {@code file} (refused if it exists) and
     * publishes it; the simple form of {@link #save(QmpClient, Path, MemoryFileWriter, Duration)}.
     */
    public static Figures save(QmpClient qmp, Path socketDir, Path file, String domainXml, boolean wasRunning,
                               MemoryFileWriter.Compression compression, Duration timeout) throws IOException {
        Path partial = MemoryFileWriter.partialFor(file);
        try (MemoryFileWriter w = MemoryFileWriter.create(file, partial, domainXml, wasRunning, compression)) {
            Figures f = save(qmp, socketDir, w, timeout);
            w.publish();
            MemoryFileWriter.dropPartial(partial);
            return f;
        }
    }

    /**
     * Migrates the VM's state into {@code writer} and finishes it (whole and synced under its
     * partial name; the caller publishes it). Afterwards the VM is in {@code postmigrate}:
     * stopped, images inactive until {@code cont}. The socket is made in {@code socketDir} (keep
     * it short: UNIX socket paths hold 107 bytes). On failure the migration is cancelled.
     *
     * @throws QmpCommandException when QEMU reports the migration failed
     */
    public static Figures save(QmpClient qmp, Path socketDir, MemoryFileWriter writer, Duration timeout)
            throws IOException {
        long start = System.nanoTime();
        long deadline = start + timeout.toNanos();
        Path socket = socketDir.resolve("migrate-out-" + ProcessHandle.current().pid() + "-" + System.nanoTime() % 100000 + ".sock");
        enableMigrationEvents(qmp);
        qmp.execute("migrate-set-parameters", QmpClient.arguments().put("max-bandwidth", MAX_BANDWIDTH), STEP_TIMEOUT);
        Files.deleteIfExists(socket);
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        CompletableFuture<Long> pump = new CompletableFuture<>();
        AtomicReference<SocketChannel> accepted = new AtomicReference<>();
        Thread receiver = null;
        boolean done = false;
        try (QmpClient.EventStream events = qmp.events(e -> e.name().equals("MIGRATION"))) {
            server.bind(UnixDomainSocketAddress.of(socket));
            receiver = Thread.ofPlatform().name("vmsnap-mem-save " + writer.target().getFileName())
                    .start(() -> receive(server, accepted, writer, pump));
            qmp.execute("migrate", QmpClient.arguments().put("uri", "unix:" + socket), STEP_TIMEOUT);
            try {
                awaitMigration(qmp, events, deadline, "save to " + writer.target());
            } catch (QmpException e) {
                // A writer that failed (a full disk) closed the socket, and QEMU's "broken pipe"
                // followed: the writer's reason is the one to tell.
                IOException w = writerFailure(pump);
                if (w != null) {
                    throw new IOException("writing " + writer.target() + " failed: " + w.getMessage(), w);
                }
                throw e;
            }
            long fileBytes = join(pump, deadline, "writing " + writer.target());
            done = true;
            return new Figures(writer.streamBytes(), fileBytes, Duration.ofNanos(System.nanoTime() - start));
        } finally {
            if (!done) {
                cancelQuietly(qmp);
            }
            server.close(); // ends an accept() that QEMU never answered
            if (!done && accepted.get() != null) {
                accepted.get().close(); // ends a read() from a QEMU that stopped sending
            }
            if (receiver != null) {
                Uninterruptibly.join(receiver); // it ends on the closed socket or on its own
            }
            Files.deleteIfExists(socket);
        }
    }

    /** Feeds a verified memory file to QEMU; see {@link #restore(QmpClient, Path, StreamSource, String, Duration)}. */
    public static Figures restore(QmpClient qmp, Path socketDir, MemoryFile.Verified file, Duration timeout)
            throws IOException {
        int threads = Math.max(1, Runtime.getRuntime().availableProcessors());
        Figures f = restore(qmp, socketDir, out -> MemoryFile.feed(file, out, threads), file.file().toString(),
                timeout);
        return new Figures(f.streamBytes(), file.fileBytes(), f.elapsed());
    }

    /**
     * Feeds a stream to a QEMU started with {@code -incoming defer}
     * ({@link QemuProcess#startIncoming}) and waits until it has loaded the state. The VM
     * stays stopped until the caller sends {@code cont}.
     *
     * @throws QmpCommandException when QEMU rejects the stream
     */
    public static Figures restore(QmpClient qmp, Path socketDir, StreamSource source, String what, Duration timeout)
            throws IOException {
        long start = System.nanoTime();
        long deadline = start + timeout.toNanos();
        Path socket = socketDir.resolve("migrate-in-" + ProcessHandle.current().pid() + "-" + System.nanoTime() % 100000 + ".sock");
        try {
            enableMigrationEvents(qmp);
            Files.deleteIfExists(socket);
            try (QmpClient.EventStream events = qmp.events(e -> e.name().equals("MIGRATION"))) {
                qmp.execute("migrate-incoming", QmpClient.arguments().put("uri", "unix:" + socket), STEP_TIMEOUT);
                long streamBytes;
                try (SocketChannel out = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
                    streamBytes = source.writeTo(out);
                    out.shutdownOutput();
                    awaitMigration(qmp, events, deadline, "restore from " + what);
                } catch (MemoryFile.PeerClosedException e) {
                    // QEMU rejected the stream and closed the socket: its reason beats EPIPE
                    throw new QmpCommandException("migrate-incoming", "MigrationFailed", "QEMU stopped reading " + what
                            + " after " + e.sent + " bytes of stream: " + migrationError(qmp), e);
                }
                return new Figures(streamBytes, -1, Duration.ofNanos(System.nanoTime() - start));
            }
        } finally {
            Files.deleteIfExists(socket);
        }
    }

    private static IOException writerFailure(CompletableFuture<Long> pump) {
        try {
            pump.get(5, TimeUnit.SECONDS);
            return null;
        } catch (ExecutionException e) {
            return e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        } catch (TimeoutException e) {
            return null;
        }
    }

    /** Runs on the receiving thread: accept QEMU's connection and hand the stream to the writer. */
    private static void receive(ServerSocketChannel server, AtomicReference<SocketChannel> accepted,
                                MemoryFileWriter writer, CompletableFuture<Long> result) {
        try (SocketChannel from = server.accept()) {
            accepted.set(from);
            writer.transferFrom(from);
            result.complete(writer.finish());
        } catch (IOException | RuntimeException e) {
            result.completeExceptionally(e);
        }
    }


    /**
     * A save that QEMU holds at its last pause: the guest's CPUs are stopped (QEMU's
     * {@code finish-migrate}), every page but the last pass's is in the stream, and the disks are
     * still active (QEMU 7.2's migration_completion stops the VM, pauses in
     * {@code pre-switchover}, and only then sends the device state and inactivates the images), so
     * QEMU can still take internal snapshots. {@link #finish} lets the migration end;
     * {@link #close} without it cancels the migration (QEMU then resumes a guest that ran).
     */
    public static final class Switchover implements AutoCloseable {
        private final QmpClient qmp;
        private final MemoryFileWriter writer;
        private final Path socket;
        private final ServerSocketChannel server;
        private final AtomicReference<SocketChannel> accepted;
        private final Thread receiver;
        private final CompletableFuture<Long> pump;
        private final QmpClient.EventStream events;
        private final long start;
        private final long deadline;
        private boolean done;
        private CompletableFuture<JsonNode> continued;

        private Switchover(QmpClient qmp, MemoryFileWriter writer, Path socket, ServerSocketChannel server,
                           AtomicReference<SocketChannel> accepted, Thread receiver, CompletableFuture<Long> pump,
                           QmpClient.EventStream events, long start, long deadline) {
            this.qmp = qmp;
            this.writer = writer;
            this.socket = socket;
            this.server = server;
            this.accepted = accepted;
            this.receiver = receiver;
            this.pump = pump;
            this.events = events;
            this.start = start;
            this.deadline = deadline;
        }

        public MemoryFileWriter writer() {
            return writer;
        }

        /**
         * Throws unless the save is still held at its last pause: no MIGRATION event has come since
         * {@code pre-switchover} (QEMU sends one for every change of the migration's state), so no
         * query to QEMU is needed while the guest waits.
         */
        public void requireHeld() throws QmpException {
            if (continued != null) {
                throw new IllegalStateException("the save was let go already");
            }
            QmpEvent e = events.poll();
            if (e != null) {
                throw new QmpCommandException("migrate", "MigrationFailed", "the save to " + writer.target()
                        + " is no longer held at its last pause (QEMU reported '" + e.text("status") + "')");
            }
        }

        /**
         * Sends {@code migrate-continue} and returns at once: QEMU sends the device state,
         * inactivates the images and ends the migration ({@code postmigrate}). Its reply is checked
         * by {@link #finish}. A command sent just before it (the disks' snapshots) runs first.
         */
        public void letGo() {
            if (continued == null) {
                continued = qmp.executeAsync("migrate-continue", QmpClient.arguments().put("state", "pre-switchover"));
            }
        }

        /**
         * Lets the save go on ({@link #letGo}) if it was not yet; when QEMU reports it
         * {@code completed}, {@code atCompletion} runs, before the file is finished (a {@code cont}
         * there keeps the guest's pause short: the file's sync is not in it). Returns when the file
         * is whole and synced under its partial name.
         */
        public Figures finish(QmpAction atCompletion) throws IOException {
            letGo();
            qmp.reply(continued, "migrate-continue", STEP_TIMEOUT);
            String what = "save to " + writer.target();
            try {
                awaitMigration(qmp, events, deadline, what);
            } catch (QmpException e) {
                IOException w = writerFailure(pump);
                if (w != null) {
                    throw new IOException("writing " + writer.target() + " failed: " + w.getMessage(), w);
                }
                throw e;
            }
            atCompletion.run();
            long fileBytes = join(pump, deadline, "writing " + writer.target());
            done = true;
            return new Figures(writer.streamBytes(), fileBytes, Duration.ofNanos(System.nanoTime() - start));
        }

        /**
         * Ends the save; one not finished is cancelled first, or, once let go, failed by closing its
         * socket and awaited. Never throws for the cancel.
         */
        @Override
        public void close() throws IOException {
            try {
                if (!done && continued == null) {
                    cancelQuietly(qmp);
                } else if (!done) {
                    // Let go, QEMU may have inactivated the images already: a migrate_cancel landing
                    // then leaves QEMU 7.2 running the guest on inactive images (its cancel reactivates
                    // them only when cancelled twice; a later block command aborts QEMU; seen in
                    // LiveInternalCheckpointIT). A broken socket fails the migration instead, and
                    // QEMU's failure path reactivates them; a completed one is resumed by the caller.
                    if (accepted.get() != null) {
                        accepted.get().close();
                    }
                    awaitEnd(qmp, deadline);
                }
                events.close();
                server.close();
                if (!done && accepted.get() != null) {
                    accepted.get().close();
                }
                Uninterruptibly.join(receiver);
            } finally {
                Files.deleteIfExists(socket);
                try {
                    if (qmp.isConnected()) {
                        setCapabilities(qmp, false); // refused while a cancel still runs: the next save sets it
                    }
                } catch (QmpException ignored) {
                    // the next save sets it again
                }
            }
        }
    }

    /** Waits until QEMU's migration has ended (any state but a running one); quiet when QEMU is gone. */
    private static void awaitEnd(QmpClient qmp, long deadline) {
        long limit = Math.min(deadline, System.nanoTime() + STEP_TIMEOUT.toNanos());
        try {
            while (qmp.isConnected() && System.nanoTime() < limit) {
                String s = qmp.execute("query-migrate", null, STEP_TIMEOUT).path("status").asText("none");
                if (!List.of("setup", "active", "device", "pre-switchover", "cancelling", "wait-unplug").contains(s)) {
                    return;
                }
                Thread.sleep(5);
            }
        } catch (QmpException e) {
            // QEMU is gone or not answering: the caller's settling finds out
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** A QMP call made at a moment of the save. */
    @FunctionalInterface
    public interface QmpAction {
        void run() throws IOException;
    }

    /**
     * Starts a save with QEMU's {@code pause-before-switchover} and returns once QEMU has stopped
     * the guest for the last pass and waits in {@code pre-switchover} (see {@link Switchover}).
     * Set {@code downtime-limit} and the like before. On failure the migration is cancelled.
     */
    public static Switchover saveToSwitchover(QmpClient qmp, Path socketDir, MemoryFileWriter writer,
                                              Duration timeout) throws IOException {
        long start = System.nanoTime();
        long deadline = start + timeout.toNanos();
        Path socket = socketDir.resolve("migrate-out-" + ProcessHandle.current().pid() + "-"
                + System.nanoTime() % 100000 + ".sock");
        setCapabilities(qmp, true);
        qmp.execute("migrate-set-parameters", QmpClient.arguments().put("max-bandwidth", MAX_BANDWIDTH), STEP_TIMEOUT);
        Files.deleteIfExists(socket);
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        CompletableFuture<Long> pump = new CompletableFuture<>();
        AtomicReference<SocketChannel> accepted = new AtomicReference<>();
        QmpClient.EventStream events = qmp.events(e -> e.name().equals("MIGRATION"));
        Switchover held = null;
        try {
            server.bind(UnixDomainSocketAddress.of(socket));
        } catch (IOException | RuntimeException e) {
            server.close();
            events.close();
            throw e;
        }
        try {
            Thread receiver = Thread.ofPlatform().name("vmsnap-mem-save " + writer.target().getFileName())
                    .start(() -> receive(server, accepted, writer, pump));
            held = new Switchover(qmp, writer, socket, server, accepted, receiver, pump, events, start, deadline);
            qmp.execute("migrate", QmpClient.arguments().put("uri", "unix:" + socket), STEP_TIMEOUT);
            try {
                awaitMigration(qmp, events, deadline, "save to " + writer.target(), "pre-switchover");
            } catch (QmpException e) {
                IOException w = writerFailure(pump);
                if (w != null) {
                    throw new IOException("writing " + writer.target() + " failed: " + w.getMessage(), w);
                }
                throw e;
            }
            Switchover out = held;
            held = null;
            return out;
        } finally {
            if (held != null) {
                held.close(); // cancels the migration, ends the receiver
            }
        }
    }

    // --- shared -----------------------------------------------------------------------------

    /** MIGRATION events tell the end of a migration without polling query-migrate. */
    private static void enableMigrationEvents(QmpClient qmp) throws QmpException {
        setCapabilities(qmp, false);
    }

    /**
     * Events on, and pause-before-switchover as asked: it is a setting of QEMU that outlives the
     * migration, so every save sets it (a plain save that met it left on would wait forever).
     */
    private static void setCapabilities(QmpClient qmp, boolean pauseBeforeSwitchover) throws QmpException {
        var arguments = QmpClient.arguments();
        var caps = arguments.putArray("capabilities");
        caps.addObject().put("capability", "events").put("state", true);
        caps.addObject().put("capability", "pause-before-switchover").put("state", pauseBeforeSwitchover);
        qmp.execute("migrate-set-capabilities", arguments, STEP_TIMEOUT);
    }

    private static void awaitMigration(QmpClient qmp, QmpClient.EventStream events, long deadline, String what)
            throws QmpException {
        awaitMigration(qmp, events, deadline, what, "completed");
    }

    /** Waits for the MIGRATION event with status {@code until}; failed or cancelled is an error. */
    private static void awaitMigration(QmpClient qmp, QmpClient.EventStream events, long deadline, String what,
                                       String until) throws QmpException {
        while (true) {
            QmpEvent event;
            try {
                event = events.next(Duration.ofNanos(Math.max(1, deadline - System.nanoTime())));
            } catch (QmpTimeoutException e) {
                throw new QmpTimeoutException("migration (" + what + ") did not complete in time");
            }
            String status = event.text("status");
            if (status.equals(until)) {
                return;
            }
            switch (status) {
                case "failed", "cancelled" -> throw new QmpCommandException("migrate", "MigrationFailed",
                        what + " " + event.text("status") + ": " + migrationError(qmp));
                default -> {
                    // setup, active, device, ...: keep waiting
                }
            }
        }
    }

    private static String migrationError(QmpClient qmp) {
        String exited = "QEMU exited (an incoming migration that fails ends QEMU; its log says why)";
        if (!qmp.isConnected()) {
            return exited;
        }
        try {
            JsonNode info = qmp.execute("query-migrate", null, STEP_TIMEOUT);
            return info.path("error-desc").asText("status " + info.path("status").asText("unknown"));
        } catch (QmpDisconnectedException e) {
            return exited;
        } catch (QmpException e) {
            return "(query-migrate failed: " + e.getMessage() + ")";
        }
    }

    private static void cancelQuietly(QmpClient qmp) {
        try {
            if (qmp.isConnected()) {
                qmp.execute("migrate_cancel", null, STEP_TIMEOUT);
            }
        } catch (QmpException ignored) {
            // the original failure is what matters
        }
    }

    private static long join(CompletableFuture<Long> pump, long deadline, String what) throws IOException {
        try {
            return pump.get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw new QmpTimeoutException(what + " did not finish in time");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new QmpTimeoutException("interrupted while " + what);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) {
                throw new IOException(what + " failed: " + io.getMessage(), io);
            }
            throw new IOException(what + " failed", e.getCause());
        }
    }
}
