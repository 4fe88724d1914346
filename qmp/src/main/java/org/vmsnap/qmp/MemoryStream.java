package org.vmsnap.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.luben.zstd.ZstdInputStreamNoFinalizer;
import com.github.luben.zstd.ZstdOutputStreamNoFinalizer;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Saves a VM's memory and device state through vmsnap, compressed, and loads it back.
 *
 * <p>Save: vmsnap listens on a UNIX socket, QEMU migrates to it ({@code migrate} with a
 * {@code unix:} URI), and vmsnap writes the stream through zstd into the file. Restore:
 * QEMU started with {@code -incoming defer} listens ({@code migrate-incoming}), vmsnap
 * connects and feeds it the decompressed stream. No shell pipe, no {@code exec:} URI
 * (which failed under {@code -daemonize} on QEMU 7.2), no {@code file:} URI (QEMU 8.2+).
 *
 * <p>File layout: 16 bytes of header, then one zstd frame holding QEMU's stream as is.
 * <pre>
 *   0  8  magic "VMSNAPMS"
 *   8  4  version, big-endian, 1
 *  12  4  reserved, 0
 * </pre>
 * The file is written next to its final name and moved into place only once QEMU reported
 * the migration completed and the data is on disk, so a file with the final name is whole.
 */
public final class MemoryStream {

    private static final byte[] MAGIC = "VMSNAPMS".getBytes(StandardCharsets.US_ASCII);
    private static final int VERSION = 1;
    private static final int HEADER_BYTES = 16;

    /**
     * How the stream is compressed: a zstd level and the number of zstd worker threads
     * (0: compress on the receiving thread).
     */
    public record Compression(int level, int workers) {
        public Compression {
            if (level < -7 || level > 19) {
                throw new IllegalArgumentException("zstd level must be -7..19, not " + level);
            }
            if (workers < 0 || workers > 64) {
                throw new IllegalArgumentException("zstd workers must be 0..64, not " + workers);
            }
        }
    }

    /**
     * Level 1 with 2 workers: measured by bench/memstream.sh on 2 cores (bench/RESULTS.md),
     * it saved fastest of the variants tried, with a file within 4% of level 3's.
     */
    public static final Compression DEFAULT = new Compression(1, 2);

    /**
     * QEMU 7.2 caps migration at 128 MiB/s unless told otherwise; to a local socket that
     * only slows the save down. 1 TiB/s is far above any real rate and within QEMU's limit.
     */
    private static final long MAX_BANDWIDTH = 1L << 40;

    private static final int CHUNK = 1 << 20;
    private static final Duration STEP_TIMEOUT = Duration.ofSeconds(30);

    private MemoryStream() {
    }

    /** What a save or restore moved: QEMU's stream length, the file's length, the time. */
    public record Figures(long streamBytes, long fileBytes, Duration elapsed) {
    }

    /**
     * Migrates the VM's state into {@code file}, compressed. Afterwards the
     * VM is in {@code postmigrate}: stopped, images inactive until {@code cont}. The socket
     * is made in {@code socketDir} (keep it short: UNIX socket paths hold 107 bytes).
     *
     * @throws QmpCommandException when QEMU reports the migration failed
     */
    public static Figures save(QmpClient qmp, Path socketDir, Path file, Compression compression, Duration timeout)
            throws IOException {
        long start = System.nanoTime();
        long deadline = start + timeout.toNanos();
        Path socket = socketDir.resolve("migrate-out-" + ProcessHandle.current().pid() + "-" + System.nanoTime() % 100000 + ".sock");
        // vmsnap never replaces a file: an existing target is refused before QEMU sends a byte,
        // and the stream goes to a hidden name of its own until it is complete.
        if (Files.exists(file, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            throw new java.nio.file.FileAlreadyExistsException(file.toString(), null,
                    "file exists; vmsnap does not overwrite it");
        }
        Path partial = file.toAbsolutePath().resolveSibling(".vmsnap-partial-"
                + Long.toHexString(new java.security.SecureRandom().nextLong()));
        enableMigrationEvents(qmp);
        qmp.execute("migrate-set-parameters", QmpClient.arguments().put("max-bandwidth", MAX_BANDWIDTH), STEP_TIMEOUT);
        Files.deleteIfExists(socket);
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        CompletableFuture<long[]> pump = new CompletableFuture<>();
        AtomicReference<SocketChannel> accepted = new AtomicReference<>();
        Thread writer = null;
        boolean done = false;
        try (QmpClient.EventStream events = qmp.events(e -> e.name().equals("MIGRATION"))) {
            server.bind(UnixDomainSocketAddress.of(socket));
            writer = Thread.ofPlatform().name("vmsnap-mem-save " + file.getFileName())
                    .start(() -> receive(server, accepted, partial, compression, pump));
            qmp.execute("migrate", QmpClient.arguments().put("uri", "unix:" + socket), STEP_TIMEOUT);
            awaitMigration(qmp, events, deadline, "save to " + file);
            long[] counts = join(pump, deadline, "writing " + file);
            Files.createLink(file, partial); // fails if the name was taken meanwhile: nothing is replaced
            Files.delete(partial);
            forceDirectory(file.toAbsolutePath().getParent()); // the new name itself survives a crash
            done = true;
            return new Figures(counts[0], counts[1], Duration.ofNanos(System.nanoTime() - start));
        } finally {
            if (!done) {
                cancelQuietly(qmp);
            }
            server.close(); // ends an accept() that QEMU never answered
            if (!done && accepted.get() != null) {
                accepted.get().close(); // ends a read() from a QEMU that stopped sending
            }
            if (writer != null) {
                joinUninterruptibly(writer); // it ends on the closed socket or on its own
            }
            Files.deleteIfExists(socket);
            if (!done) {
                Files.deleteIfExists(partial);
            }
        }
    }

    /**
     * Feeds {@code file} to a QEMU started with {@code -incoming defer}
     * ({@link QemuProcess#startIncoming}) and waits until it has loaded the state. The VM
     * stays stopped until the caller sends {@code cont}.
     *
     * @throws IOException when the file is not a vmsnap memory file or is cut short
     * @throws QmpCommandException when QEMU rejects the stream
     */
    public static Figures restore(QmpClient qmp, Path socketDir, Path file, Duration timeout) throws IOException {
        long start = System.nanoTime();
        long deadline = start + timeout.toNanos();
        Path socket = socketDir.resolve("migrate-in-" + ProcessHandle.current().pid() + "-" + System.nanoTime() % 100000 + ".sock");
        try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ)) {
            readHeader(in, file);
            enableMigrationEvents(qmp);
            Files.deleteIfExists(socket);
            try (QmpClient.EventStream events = qmp.events(e -> e.name().equals("MIGRATION"))) {
                qmp.execute("migrate-incoming", QmpClient.arguments().put("uri", "unix:" + socket), STEP_TIMEOUT);
                long streamBytes;
                try (SocketChannel out = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
                    streamBytes = send(in, file, out);
                    out.shutdownOutput();
                    awaitMigration(qmp, events, deadline, "restore from " + file);
                } catch (PeerStoppedReading e) {
                    // QEMU rejected the stream and closed the socket: its reason beats EPIPE
                    throw new QmpCommandException("migrate-incoming", "MigrationFailed", "QEMU stopped reading " + file
                            + " after " + e.sent + " bytes of stream: " + migrationError(qmp), e);
                }
                return new Figures(streamBytes, Files.size(file), Duration.ofNanos(System.nanoTime() - start));
            }
        } finally {
            Files.deleteIfExists(socket);
        }
    }

    // --- save side ------------------------------------------------------------------------

    /** Runs on the writer thread: accept QEMU's connection and compress until end of stream. */
    private static void receive(ServerSocketChannel server, AtomicReference<SocketChannel> accepted, Path partial,
                                Compression compression, CompletableFuture<long[]> result) {
        try (SocketChannel from = server.accept();
             FileChannel file = FileChannel.open(partial, java.util.Set.of(StandardOpenOption.CREATE_NEW,
                     StandardOpenOption.WRITE), java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                     java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")))) {
            accepted.set(from);
            file.write(ByteBuffer.wrap(header()));
            long streamBytes = 0;
            // Closing zstd must flush but not close the file: it is forced to disk after.
            OutputStream sink = new BufferedOutputStream(Channels.newOutputStream(file), CHUNK) {
                @Override
                public void close() throws IOException {
                    flush();
                }
            };
            try (ZstdOutputStreamNoFinalizer zstd = new ZstdOutputStreamNoFinalizer(sink, compression.level())) {
                if (compression.workers() > 0) {
                    zstd.setWorkers(compression.workers());
                }
                ByteBuffer buffer = ByteBuffer.allocate(CHUNK);
                int n;
                while ((n = from.read(buffer.clear())) >= 0) {
                    zstd.write(buffer.array(), 0, n);
                    streamBytes = Math.addExact(streamBytes, n);
                }
            }
            file.force(true);
            result.complete(new long[] {streamBytes, Files.size(partial)});
        } catch (IOException | RuntimeException e) {
            result.completeExceptionally(e);
        }
    }

    private static byte[] header() {
        return ByteBuffer.allocate(HEADER_BYTES).put(MAGIC).putInt(VERSION).putInt(0).array();
    }

    // --- restore side ---------------------------------------------------------------------

    private static void readHeader(FileChannel in, Path file) throws IOException {
        ByteBuffer header = ByteBuffer.allocate(HEADER_BYTES);
        while (header.hasRemaining()) {
            if (in.read(header) < 0) {
                throw new EOFException(file + " is not a vmsnap memory file: " + header.position()
                        + " bytes, the header alone needs " + HEADER_BYTES);
            }
        }
        byte[] magic = Arrays.copyOf(header.array(), MAGIC.length);
        if (!Arrays.equals(magic, MAGIC)) {
            throw new IOException(file + " is not a vmsnap memory file: bad magic at offset 0x0");
        }
        int version = header.getInt(8);
        if (version != VERSION) {
            throw new IOException(file + ": unsupported memory file version " + version + " at offset 0x8 (expected "
                    + VERSION + ")");
        }
    }

    /** A write to QEMU's socket failed: QEMU closed it (it exits when a load fails). */
    private static final class PeerStoppedReading extends IOException {
        final long sent;

        PeerStoppedReading(long sent, IOException cause) {
            super(cause.getMessage(), cause);
            this.sent = sent;
        }
    }

    /** Decompresses {@code in} into {@code out}; a damaged file and a closed peer are told apart. */
    private static long send(FileChannel in, Path file, SocketChannel out) throws IOException {
        InputStream source = new BufferedInputStream(Channels.newInputStream(in), CHUNK);
        long total = 0;
        try (ZstdInputStreamNoFinalizer zstd = new ZstdInputStreamNoFinalizer(source)) {
            byte[] chunk = new byte[CHUNK];
            int n;
            while (true) {
                try {
                    n = zstd.read(chunk);
                } catch (com.github.luben.zstd.ZstdIOException e) {
                    throw new IOException(file + ": the compressed stream is damaged or cut short after "
                            + total + " bytes of stream (at file offset 0x" + Long.toHexString(in.position()) + "): "
                            + e.getMessage(), e);
                }
                if (n < 0) {
                    return total;
                }
                ByteBuffer buffer = ByteBuffer.wrap(chunk, 0, n);
                try {
                    while (buffer.hasRemaining()) {
                        out.write(buffer);
                    }
                } catch (IOException e) {
                    throw new PeerStoppedReading(total, e);
                }
                total = Math.addExact(total, n);
            }
        }
    }

    // --- shared -----------------------------------------------------------------------------

    /** MIGRATION events tell the end of a migration without polling query-migrate. */
    private static void enableMigrationEvents(QmpClient qmp) throws QmpException {
        var arguments = QmpClient.arguments();
        arguments.putArray("capabilities").addObject().put("capability", "events").put("state", true);
        qmp.execute("migrate-set-capabilities", arguments, STEP_TIMEOUT);
    }

    private static void awaitMigration(QmpClient qmp, QmpClient.EventStream events, long deadline, String what)
            throws QmpException {
        while (true) {
            QmpEvent event;
            try {
                event = events.next(Duration.ofNanos(Math.max(1, deadline - System.nanoTime())));
            } catch (QmpTimeoutException e) {
                throw new QmpTimeoutException("migration (" + what + ") did not complete in time");
            }
            switch (event.text("status")) {
                case "completed" -> {
                    return;
                }
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

    private static long[] join(CompletableFuture<long[]> pump, long deadline, String what) throws IOException {
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

    private static void forceDirectory(Path dir) throws IOException {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        }
    }

    private static void joinUninterruptibly(Thread thread) {
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
}
