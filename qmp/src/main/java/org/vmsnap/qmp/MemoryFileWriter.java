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
import java.lang.foreign.Arena;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
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
     * Level -1, 4 MiB frames, one thread per core: bench/save.sh on 2 cores (bench/RESULTS.md).
     * Level 1 kept the file within a few percent of level 3 at about twice the speed; level -1
     * (zstd's fast levels) compresses the test guest's stream with ~18% less CPU than level 1 for a
     * file 0.53x the stream instead of 0.50x (-3: 0.57x, -5: 0.61x, over issue 13's 0.6x). On two
     * cores shared with QEMU's migration thread the CPU is what the save waits for.
     */
    public static Compression defaultCompression() {
        // vmsnap.memoryZstdLevel: for bench/save.sh's comparison of levels, not for users
        int level = Integer.getInteger("vmsnap.memoryZstdLevel", -1);
        return new Compression(level, 4 << 20, Math.max(1, Runtime.getRuntime().availableProcessors()));
    }

    private final Path target;
    private final Path partial;
    private final FileChannel out;
    private final Compression compression;
    /** Compresses frames (compression.threads of them). */
    private final ExecutorService pool;
    /**
     * Writes the compressed frames in stream order and syncs as it goes, so that the thread reading
     * QEMU's socket never waits for the disk: one thread, tasks run in submission order.
     */
    private final ExecutorService writer;
    /** The frames' buffers, native memory freed by {@link #close} (not left to the GC). */
    private final Arena arena = Arena.ofShared();
    /** Buffers free for the reading side; it waits for one when every buffer is in flight. */
    private final BlockingQueue<Slot> free;
    private final CRC32C index = new CRC32C();
    private Slot current;
    private volatile Throwable failure;
    private long position;
    private long frames;
    private volatile long streamBytes;
    private final long firstFrame;
    private boolean finished;
    private boolean published;

    /** Buffers besides one per compressing thread: the frame being filled and one waiting for the disk. */
    static final int SPARE_SLOTS = 2;
    private final int maxSlots;
    /** Buffers made so far (on the reading thread): made as the stream needs them, not up front. */
    private int slots;

    /** One frame's content and its encoded form (frame header, then the zstd frame), in native memory. */
    private static final class Slot {
        final ByteBuffer content;
        final ByteBuffer encoded;
        int encodedLength;

        Slot(ByteBuffer content, ByteBuffer encoded) {
            this.content = content;
            this.encoded = encoded;
        }
    }

    /**
     * Loads zstd's native library on a thread of its own, so that a save command's first frame does
     * not wait for it: zstd-jni unpacks and links it on first use (0.75-0.8 s in a fresh JVM at
     * load 7), which then overlaps the command's checks, journal and pause. Returns at once.
     */
    public static void preload() {
        Thread.ofPlatform().daemon().name("vmsnap-zstd-load").start(() -> {
            try {
                Zstd.compressBound(0);
            } catch (RuntimeException | LinkageError e) {
                // the save's own first use reports it
            }
        });
    }

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
        this.maxSlots = compression.threads() + SPARE_SLOTS;
        this.free = new ArrayBlockingQueue<>(maxSlots);
        this.pool = Executors.newFixedThreadPool(compression.threads(),
                Thread.ofPlatform().daemon().name("vmsnap-mem-save-", 0).factory());
        this.writer = Executors.newSingleThreadExecutor(
                Thread.ofPlatform().daemon().name("vmsnap-mem-write").factory());
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
            ByteBuffer c = slot().content;
            int n = Math.min(len, c.remaining());
            c.put(b, off, n);
            off += n;
            len -= n;
            streamBytes += n;
            if (!c.hasRemaining()) {
                submit();
            }
        }
    }

    /**
     * Takes the stream from {@code in} until its end; returns the bytes read. The socket is read
     * straight into a frame's native buffer (no copy through the heap), and this thread only
     * reads and hands frames on: it waits only when every buffer is being compressed or written.
     */
    public long transferFrom(ReadableByteChannel in) throws IOException {
        long total = 0;
        while (true) {
            ByteBuffer c = slot().content;
            int n = in.read(c);
            if (n < 0) {
                return total;
            }
            total += n;
            streamBytes += n;
            if (!c.hasRemaining()) {
                submit();
            }
        }
    }

    /** The frame being filled; takes a free buffer when there is none. */
    private Slot slot() throws IOException {
        if (current == null) {
            rethrowFailure();
            try {
                current = free.poll();
                if (current == null && slots < maxSlots) {
                    // Fresh memory costs a page fault per 4 KiB (48 MiB took 0.4 s at load 7 here):
                    // a buffer is made only when every one made so far is in use.
                    long encoded = MemoryFile.FRAME_HEADER_BYTES + Zstd.compressBound(compression.frameBytes());
                    current = new Slot(arena.allocate(compression.frameBytes(), 4096).asByteBuffer(),
                            arena.allocate(encoded, 4096).asByteBuffer());
                    slots++;
                } else if (current == null) {
                    current = free.take();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("interrupted while saving to " + target);
            }
            rethrowFailure();
            current.content.clear();
        }
        return current;
    }

    private void rethrowFailure() throws IOException {
        Throwable f = failure;
        if (f instanceof IOException io) {
            throw new IOException(io.getMessage(), io);
        }
        if (f != null) {
            throw new IOException("writing " + partial + " failed: " + f, f);
        }
    }

    /** Compresses the frame being filled on the pool, then writes it in order on the writer thread. */
    private void submit() {
        Slot s = current;
        current = null;
        s.content.flip();
        int level = compression.level();
        CompletableFuture<Slot> encoded = CompletableFuture.supplyAsync(() -> encodeFrame(s, level), pool);
        writer.execute(() -> {
            try {
                Slot e = MemoryFile.await(encoded);
                if (failure == null) {
                    writeFrame(e);
                }
            } catch (IOException | RuntimeException | Error e) {
                if (failure == null) {
                    failure = e;
                }
            } finally {
                free.add(s); // never blocks: the queue holds every slot
            }
        });
    }

    /** The frame header and its zstd frame, checksummed, into the slot's encoded buffer (on a pool thread). */
    private static Slot encodeFrame(Slot s, int level) {
        ByteBuffer content = s.content;
        int length = content.limit();
        ByteBuffer enc = s.encoded.clear(); // zstd-jni checks against the limit, which the last write left
        int room = enc.capacity() - MemoryFile.FRAME_HEADER_BYTES;
        long zLength = Zstd.compressDirectByteBuffer(enc, MemoryFile.FRAME_HEADER_BYTES, room, content, 0, length,
                level);
        if (Zstd.isError(zLength)) {
            throw new IllegalStateException("zstd: " + Zstd.getErrorName(zLength));
        }
        int z = (int) zLength;
        CRC32C c = new CRC32C();
        c.update(enc.slice(MemoryFile.FRAME_HEADER_BYTES, z));
        int zCrc = (int) c.getValue();
        c.reset();
        c.update(content.slice(0, length));
        enc.clear();
        enc.put(MemoryFile.FRAME_MAGIC).putInt(z).putInt(length).putInt(zCrc).putInt((int) c.getValue());
        s.encodedLength = MemoryFile.FRAME_HEADER_BYTES + z;
        return s;
    }

    /** On the writer thread: the frame at the end of the file, and a sync now and then. */
    private void writeFrame(Slot s) throws IOException {
        ByteBuffer e = s.encoded.clear().limit(s.encodedLength);
        for (int i = 0; i < MemoryFile.FRAME_HEADER_BYTES; i++) {
            index.update(e.get(i));
        }
        writeAll(e);
        frames++;
        if (position - synced >= SYNC_EVERY_BYTES) {
            // Synced as it goes, so that finish() syncs only the tail: a live checkpoint's guest
            // waits for that last sync, not for the whole file's. On this thread, the reading side
            // does not wait for it.
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
        if (current != null && current.content.position() > 0) {
            submit();
        }
        writer.shutdown();
        try {
            while (!writer.awaitTermination(1, TimeUnit.MINUTES)) {
                // a disk this slow is still a disk: the frames are written in the end
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while saving to " + target);
        }
        rethrowFailure();
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
        if (failure == null) {
            failure = new IOException("the save to " + target + " was closed"); // queued frames are not written
        }
        pool.shutdownNow();
        writer.shutdownNow();
        boolean stopped;
        try {
            // zstd works on the native buffers without the arena knowing: free them only once no
            // thread can touch them (a compression is a few ms; a stuck write leaks them instead)
            stopped = pool.awaitTermination(30, TimeUnit.SECONDS) && writer.awaitTermination(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            stopped = false;
        }
        if (stopped) {
            arena.close();
        }
        out.close();
        if (!published) {
            Files.deleteIfExists(partial);
        }
    }
}
