package org.vmsnap.qmp;

import com.github.luben.zstd.Zstd;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.zip.CRC32C;

/**
 * Writes a {@link MemoryFile} (version 2): QEMU's stream is cut into frames of
 * {@link Compression#frameBytes} that are compressed on {@link Compression#threads} threads
 * and written in order.
 *
 * <p>Crash rule: the file is written under a hidden name of its own in the target's folder
 * ({@link #partialFor}), mode 0600 from its creation (it holds the guest's RAM), synced, and only
 * then linked to the final name, which must still be free (a link never replaces a file). So a
 * file under the final name is always whole; a partial file is this writer's and removing it
 * removes nothing of anyone else's.
 */
public final class MemoryFileWriter implements AutoCloseable {

    /** zstd level, the input bytes per frame, and the threads that compress frames. */
    public record Compression(int level, int frameBytes, int threads) {
        public Compression {
            if (level < -7 || level > 19) {
                throw new IllegalArgumentException("zstd level must be -7..19, not " + level);
            }
            if (frameBytes < 64 << 10 || frameBytes > MemoryFile.MAX_FRAME_CONTENT_BYTES) {
                throw new IllegalArgumentException("frame size must be 64 KiB..64 MiB, not " + frameBytes);
            }
            if (threads < 1 || threads > 64) {
                throw new IllegalArgumentException("threads must be 1..64, not " + threads);
            }
        }
    }

    /**
     * Level 1, 4 MiB frames, one thread per core: bench/save.sh on 2 cores (bench/RESULTS.md).
     * Level 1 kept the file within a few percent of level 3 at about twice the speed.
     */
    public static Compression defaultCompression() {
        // vmsnap.memoryZstdLevel: for bench/save.sh's comparison of levels, not for users
        int level = Integer.getInteger("vmsnap.memoryZstdLevel", 1);
        return new Compression(level, 4 << 20, Math.max(1, Runtime.getRuntime().availableProcessors()));
    }

    private final Path target;
    private final Path partial;
    private final FileChannel out;
    private final Compression compression;
    private final ExecutorService pool;
    private final Deque<CompletableFuture<byte[]>> pending = new ArrayDeque<>();
    private final CRC32C index = new CRC32C();
    private byte[] frame;
    private int fill;
    private long position;
    private long frames;
    private long streamBytes;
    private final long firstFrame;
    private boolean finished;
    private boolean published;

    /** A hidden name in {@code target}'s folder for the file while it is written. */
    public static Path partialFor(Path target) {
        return target.toAbsolutePath().resolveSibling(".vmsnap-partial-"
                + Long.toHexString(new SecureRandom().nextLong() & Long.MAX_VALUE));
    }

    /**
     * Starts a memory file for {@code target} under {@code partial} (a new file; see
     * {@link #partialFor}). An existing target is refused before anything is made.
     */
    public static MemoryFileWriter create(Path target, Path partial, String domainXml, boolean wasRunning,
                                          Compression compression) throws IOException {
        refuseExisting(target);
        FileChannel ch = FileChannel.open(partial, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        try {
            ByteBuffer header = MemoryFile.encodeHeader(wasRunning, domainXml, MemoryFile.capacityFor(domainXml));
            return new MemoryFileWriter(target, partial, ch, compression, header);
        } catch (IOException | RuntimeException e) {
            ch.close();
            Files.deleteIfExists(partial);
            throw e;
        }
    }

    /** vmsnap never replaces a file: the target must not exist (as for images). */
    public static void refuseExisting(Path target) throws FileAlreadyExistsException {
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            throw new FileAlreadyExistsException(target.toString(), null, "file exists; vmsnap does not overwrite it");
        }
    }

    private MemoryFileWriter(Path target, Path partial, FileChannel out, Compression compression, ByteBuffer header)
            throws IOException {
        this.target = target;
        this.partial = partial;
        this.out = out;
        this.compression = compression;
        this.pool = Executors.newFixedThreadPool(compression.threads(),
                Thread.ofPlatform().daemon().name("vmsnap-mem-save-", 0).factory());
        this.frame = new byte[compression.frameBytes()];
        writeAll(header);
        this.firstFrame = position;
    }

    public Path partial() {
        return partial;
    }

    public Path target() {
        return target;
    }

    /** Bytes of stream taken so far (what domjobinfo-like progress can show). */
    public long streamBytes() {
        return streamBytes;
    }

    /** Takes stream bytes. */
    public void write(byte[] b, int off, int len) throws IOException {
        while (len > 0) {
            int n = Math.min(len, frame.length - fill);
            System.arraycopy(b, off, frame, fill, n);
            fill += n;
            off += n;
            len -= n;
            streamBytes = Math.addExact(streamBytes, n);
            if (fill == frame.length) {
                submit();
            }
        }
    }

    /** Takes the stream from {@code in} until its end; returns the bytes read. */
    public long transferFrom(ReadableByteChannel in) throws IOException {
        long total = 0;
        while (true) {
            ByteBuffer b = ByteBuffer.wrap(frame, fill, frame.length - fill);
            int n = in.read(b);
            if (n < 0) {
                return total;
            }
            fill += n;
            total += n;
            streamBytes = Math.addExact(streamBytes, n);
            if (fill == frame.length) {
                submit();
            }
        }
    }

    private void submit() throws IOException {
        byte[] content = frame;
        int length = fill;
        frame = new byte[compression.frameBytes()];
        fill = 0;
        int level = compression.level();
        pending.add(CompletableFuture.supplyAsync(() -> encodeFrame(content, length, level), pool));
        // Bounded: at most one frame per thread waits besides the one being filled.
        while (pending.size() > compression.threads()) {
            writeFrame(MemoryFile.await(pending.removeFirst()));
        }
    }

    /** The frame header and its zstd frame, checksummed (on a pool thread). */
    private static byte[] encodeFrame(byte[] content, int length, int level) {
        int bound = (int) Zstd.compressBound(length);
        byte[] z = new byte[bound];
        long zLength = Zstd.compressByteArray(z, 0, bound, content, 0, length, level);
        if (Zstd.isError(zLength)) {
            throw new IllegalStateException("zstd: " + Zstd.getErrorName(zLength));
        }
        z = java.util.Arrays.copyOf(z, (int) zLength);
        CRC32C c = new CRC32C();
        c.update(z);
        int zCrc = (int) c.getValue();
        c.reset();
        c.update(content, 0, length);
        ByteBuffer b = ByteBuffer.allocate(MemoryFile.FRAME_HEADER_BYTES + z.length);
        b.put(MemoryFile.FRAME_MAGIC).putInt(z.length).putInt(length).putInt(zCrc).putInt((int) c.getValue()).put(z);
        return b.array();
    }

    private void writeFrame(byte[] encoded) throws IOException {
        index.update(encoded, 0, MemoryFile.FRAME_HEADER_BYTES);
        writeAll(ByteBuffer.wrap(encoded));
        frames++;
        if (position - synced >= SYNC_EVERY_BYTES) {
            // Synced as it goes, so that finish() syncs only the tail: a live checkpoint's guest
            // waits for that last sync, not for the whole file's.
            out.force(false);
            synced = position;
        }
    }

    /** How much is written between syncs while the stream comes in. */
    static final long SYNC_EVERY_BYTES = 8L << 20;
    private long synced;

    private void writeAll(ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            position += out.write(b, position);
        }
    }

    /**
     * Writes the last frame and the trailer and syncs the file; it is then whole under its partial
     * name. Returns the file's length.
     */
    public long finish() throws IOException {
        if (fill > 0) {
            submit();
        }
        while (!pending.isEmpty()) {
            writeFrame(MemoryFile.await(pending.removeFirst()));
        }
        ByteBuffer t = ByteBuffer.allocate(MemoryFile.TRAILER_BYTES);
        t.put(MemoryFile.TRAILER_MAGIC).putLong(frames).putLong(streamBytes).putLong(firstFrame)
                .putInt((int) index.getValue());
        CRC32C c = new CRC32C();
        c.update(t.array(), 0, 36);
        t.putInt((int) c.getValue());
        writeAll(t.flip());
        out.force(true);
        finished = true;
        return position;
    }

    /**
     * Links the finished file to its final name (refused if the name was taken meanwhile: nothing is
     * replaced) and syncs the folder. The partial name stays (the caller drops it with
     * {@link #dropPartial}; a journaled plan keeps it as proof the file is its own until it is done).
     */
    public void publish() throws IOException {
        if (!finished) {
            throw new IllegalStateException("publish before finish");
        }
        Files.createLink(target, partial);
        published = true;
        syncFolder(target.toAbsolutePath().getParent());
    }

    public static void dropPartial(Path partial) throws IOException {
        if (Files.deleteIfExists(partial)) {
            syncFolder(partial.toAbsolutePath().getParent());
        }
    }

    static void syncFolder(Path dir) throws IOException {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        }
    }

    /** Stops the threads and closes the file; a file never published is removed (it is this writer's). */
    @Override
    public void close() throws IOException {
        pool.shutdownNow();
        for (CompletableFuture<byte[]> f : pending) {
            f.cancel(true);
        }
        out.close();
        if (!published) {
            Files.deleteIfExists(partial);
        }
    }
}
