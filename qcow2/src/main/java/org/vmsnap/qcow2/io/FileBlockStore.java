package org.vmsnap.qcow2.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import org.vmsnap.qcow2.CacheMode;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Objects;

/**
 * A {@link BlockStore} over a file: a FileChannel for positional reads and writes, and (on
 * Linux) a second, native descriptor for what the channel cannot do: QEMU-compatible OFD
 * image locks, hole punching, SEEK_DATA/SEEK_HOLE and allocated size.
 *
 * <p>Where the native calls are unavailable (not Linux, or native access denied) the store
 * still works: punchHole returns false, nextData/nextHole report everything as data, the
 * allocated size is the length, and the image locks fall back to FileChannel locks on the
 * same bytes (seen by other processes, but not proof against a second open in this JVM
 * closing the file, which is why OFD locks are the normal path).
 */
public final class FileBlockStore implements BlockStore {

    private final Path path;
    private final FileChannel channel;
    private final NativeFile nativeFile; // null when the native calls are unavailable
    private final ImageLock lock;        // null with forceShare
    private volatile CacheMode cacheMode = CacheMode.WRITEBACK;
    private long syncs;                  // fdatasync calls made (what the cache modes change)
    private final boolean readOnly;

    private FileBlockStore(Path path, FileChannel channel, NativeFile nativeFile, ImageLock lock,
                           boolean readOnly) {
        this.path = path;
        this.channel = channel;
        this.nativeFile = nativeFile;
        this.lock = lock;
        this.readOnly = readOnly;
    }

    /**
     * Opens an existing file and takes QEMU's image locks for the mode.
     *
     * @param forceShare take no locks at all ({@code qemu-img -U}); only for read-only opens
     * @throws org.vmsnap.qcow2.ImageInUseException when another process's locks conflict
     */
    public static FileBlockStore open(Path path, boolean readOnly, boolean forceShare) throws IOException {
        Objects.requireNonNull(path, "path");
        if (forceShare && !readOnly) {
            throw new IllegalArgumentException("force-share (-U) is only allowed for read-only opens");
        }
        return openStore(path, readOnly, forceShare, false);
    }

    /** Creates a new empty file (refusing an existing one) and holds it locked read-write. */
    public static FileBlockStore create(Path path) throws IOException {
        Objects.requireNonNull(path, "path");
        return openStore(path, false, false, true);
    }

    private static FileBlockStore openStore(Path path, boolean readOnly, boolean forceShare, boolean createNew)
            throws IOException {
        refuseDirectory(path);
        NativeFile nativeFile = null;
        FileChannel channel = null;
        try {
            if (NativeFile.isAvailable()) {
                nativeFile = NativeFile.open(path, readOnly, createNew);
                channel = FileChannel.open(sameFile(path, nativeFile), channelOptions(readOnly, false));
            } else {
                channel = FileChannel.open(path, channelOptions(readOnly, createNew));
            }
            ImageLock lock = null;
            if (!forceShare) {
                lock = nativeFile != null
                        ? ImageLock.acquire(nativeFile, path, !readOnly)
                        : ImageLock.acquireFallback(channel, path, !readOnly);
            }
            return new FileBlockStore(path, channel, nativeFile, lock, readOnly);
        } catch (IOException | RuntimeException | Error e) {
            closeQuietly(channel, e);
            closeQuietly(nativeFile, e);
            throw e;
        }
    }

    /**
     * A directory opens read-only like a file on Linux and fails only at the first read, with
     * a message that names nothing; say so up front, naming it.
     */
    public static void refuseDirectory(Path path) throws FileSystemException {
        if (Files.isDirectory(path)) {
            throw new FileSystemException(path.toString(), null, "Is a directory");
        }
    }

    /**
     * The channel opens the very file the native descriptor holds (through /proc), so a rename
     * between the two opens cannot give us locks on one file and data from another.
     */
    private static Path sameFile(Path path, NativeFile nativeFile) {
        Path viaProc = Path.of("/proc/self/fd", Integer.toString(nativeFile.fd()));
        return Files.exists(viaProc) ? viaProc : path;
    }

    private static StandardOpenOption[] channelOptions(boolean readOnly, boolean createNew) {
        if (readOnly) {
            return new StandardOpenOption[] {StandardOpenOption.READ};
        }
        return createNew
                ? new StandardOpenOption[] {StandardOpenOption.READ, StandardOpenOption.WRITE,
                                            StandardOpenOption.CREATE_NEW}
                : new StandardOpenOption[] {StandardOpenOption.READ, StandardOpenOption.WRITE};
    }

    @Override
    public Path path() {
        return path;
    }

    @Override
    public long size() throws IOException {
        return channel.size();
    }

    @Override
    public void read(long hostOffset, ByteBuffer dst) throws IOException {
        checkOffset(hostOffset);
        long position = hostOffset;
        while (dst.hasRemaining()) {
            int n = channel.read(dst, position);
            if (n < 0) {
                // Past the end of the file: the rest reads as zeros.
                while (dst.hasRemaining()) {
                    dst.put((byte) 0);
                }
                return;
            }
            position = Math.addExact(position, n);
        }
    }

    @Override
    public void write(long hostOffset, ByteBuffer src) throws IOException {
        checkOffset(hostOffset);
        checkWritable();
        long position = hostOffset;
        try {
            while (src.hasRemaining()) {
                position = Math.addExact(position, channel.write(src, position));
            }
        } catch (IOException e) {
            throw naming(e);
        }
        if (cacheMode.syncsEveryWrite()) {
            sync();
        }
    }

    /**
     * Only the blocks holding data are written; each run of all-zero blocks becomes unwritten
     * extents (fallocate, which also grows the size past a zero tail), as QEMU leaves the
     * unwritten rest of a new cluster. A cluster the guest wrote 4 KiB of then costs a 4 KiB
     * copy into the page cache (and to the disk at the sync) instead of its whole size. Whole
     * writes when the file system cannot allocate, or when every write is synced.
     */
    @Override
    public void writeIntoZeros(long hostOffset, ByteBuffer src, int block) throws IOException {
        if (nativeFile == null || cacheMode.syncsEveryWrite() || block <= 0 || src.remaining() <= block) {
            write(hostOffset, src);
            return;
        }
        checkOffset(hostOffset);
        checkWritable();
        int base = src.position();
        int length = src.remaining();
        int runStart = 0;
        java.lang.foreign.MemorySegment whole = ZeroScan.whole(src); // one view for all the blocks
        boolean runIsData = !ZeroScan.isZero(src, whole, base, base + block);
        for (int pos = block; ; pos = Math.min(length, pos + block)) {
            boolean atEnd = pos >= length;
            boolean isData = !atEnd && !ZeroScan.isZero(src, whole, base + pos, base + Math.min(length, pos + block));
            if (atEnd || isData != runIsData) {
                long at = Math.addExact(hostOffset, runStart);
                if (runIsData || !nativeFile.allocate(at, pos - runStart)) {
                    write(at, src.slice(base + runStart, pos - runStart));
                }
                if (atEnd) {
                    break;
                }
                runStart = pos;
                runIsData = isData;
            }
        }
        src.position(base + length);
    }

    /** How writes and flushes reach the disk from now on (see {@link CacheMode}). */
    @Override
    public void setCacheMode(CacheMode mode) {
        this.cacheMode = java.util.Objects.requireNonNull(mode, "mode");
    }

    /** Positional writes of a FileChannel are safe from several threads; a mode that syncs every write is not raced. */
    @Override
    public boolean concurrentWrites() {
        return !cacheMode.syncsEveryWrite();
    }

    @Override
    public CacheMode cacheMode() {
        return cacheMode;
    }

    @Override
    public void truncate(long sizeBytes) throws IOException {
        checkOffset(sizeBytes);
        checkWritable();
        if (nativeFile != null) {
            nativeFile.setLength(sizeBytes);
        } else if (sizeBytes <= channel.size()) {
            channel.truncate(sizeBytes);
        } else {
            // FileChannel cannot grow a file; one zero byte at the new end does (one block).
            try {
                channel.write(ByteBuffer.allocate(1), sizeBytes - 1);
            } catch (IOException e) {
                throw naming(e);
            }
        }
    }

    @Override
    public void flush() throws IOException {
        if (cacheMode.flushes()) {
            sync();
        }
    }

    private void sync() throws IOException {
        try {
            channel.force(false);
        } catch (IOException e) {
            throw naming(e);
        }
        syncs++;
    }

    /** How many times this store synced its file (for tests of the cache modes). */
    long syncCount() {
        return syncs;
    }

    /**
     * The channel's errors from the file system (ENOSPC, EIO, EDQUOT) are plain IOExceptions
     * that name no file: the one error line the user sees must say which image is full.
     */
    private IOException naming(IOException e) {
        if (e.getClass() != IOException.class) {
            return e; // already typed (a FileSystemException names its file; ClosedChannelException...)
        }
        FileSystemException named = new FileSystemException(path.toString(), null, e.getMessage());
        named.initCause(e);
        return named;
    }

    @Override
    public boolean punchHole(long hostOffset, long lengthBytes) throws IOException {
        checkOffset(hostOffset);
        if (lengthBytes < 0) {
            throw new IllegalArgumentException("negative length " + lengthBytes);
        }
        checkWritable();
        if (nativeFile == null) {
            return false;
        }
        return lengthBytes == 0 || nativeFile.punchHole(hostOffset, lengthBytes);
    }

    @Override
    public boolean reserve(long hostOffset, long lengthBytes) throws IOException {
        checkOffset(hostOffset);
        if (lengthBytes < 0) {
            throw new IllegalArgumentException("negative length " + lengthBytes);
        }
        checkWritable();
        return nativeFile != null && lengthBytes > 0 && nativeFile.reserve(hostOffset, lengthBytes);
    }

    @Override
    public long allocatedBytes() throws IOException {
        return nativeFile != null ? nativeFile.allocatedBytes() : size();
    }

    @Override
    public long nextData(long hostOffset) throws IOException {
        checkOffset(hostOffset);
        if (nativeFile != null) {
            long data = nativeFile.seekData(hostOffset);
            if (data != -2) {
                return data; // -1: no data at or after hostOffset (ENXIO)
            }
        }
        return hostOffset < size() ? hostOffset : -1;
    }

    @Override
    public long nextHole(long hostOffset) throws IOException {
        checkOffset(hostOffset);
        if (nativeFile != null) {
            long hole = nativeFile.seekHole(hostOffset);
            if (hole >= 0) {
                return hole;
            }
            // -1 (ENXIO): at or past the end; -2: the file system cannot tell.
        }
        return size();
    }

    @Override
    public boolean isReadOnly() {
        return readOnly;
    }

    /** The identity (device and inode) of the file this store holds open, or null when unknown. */
    public Object fileKey() throws IOException {
        return nativeFile == null ? null : Files.readAttributes(
                Path.of("/proc/self/fd", Integer.toString(nativeFile.fd())),
                java.nio.file.attribute.BasicFileAttributes.class).fileKey();
    }

    /**
     * Removes this store's file from its folder while the store still holds it open and
     * locked read-write, so no other process can be using it at that moment. Refused when the
     * path no longer names the file this store holds (replaced or a symbolic link): then
     * nothing is removed.
     *
     * @throws IllegalStateException when the store is read-only or unlocked
     */
    public void deleteFile() throws IOException {
        if (readOnly || lock == null) {
            throw new IllegalStateException(path + ": only a store holding the write lock can remove its file");
        }
        Object named = Files.readAttributes(path, java.nio.file.attribute.BasicFileAttributes.class,
                java.nio.file.LinkOption.NOFOLLOW_LINKS).fileKey();
        Object held = fileKey();
        if (named == null || held == null || !named.equals(held)) {
            throw new org.vmsnap.qcow2.ImageInUseException(path, "not removed: the path no longer names the file"
                    + " vmsnap holds open (replaced, or a symbolic link)");
        }
        Files.delete(path);
        Path dir = path.toAbsolutePath().getParent();
        try (FileChannel folder = FileChannel.open(dir, StandardOpenOption.READ)) {
            folder.force(true);
        }
    }

    /** Releases the image locks and closes both descriptors. */
    @Override
    public void close() throws IOException {
        IOException failure = null;
        if (lock != null) {
            try {
                lock.close();
            } catch (IOException e) {
                failure = e;
            }
        }
        try {
            channel.close();
        } catch (IOException e) {
            failure = add(failure, e);
        }
        if (nativeFile != null) {
            try {
                nativeFile.close();
            } catch (IOException e) {
                failure = add(failure, e);
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    @Override
    public String toString() {
        return "FileBlockStore[" + path + (readOnly ? ", read-only" : "") + (lock == null ? ", unlocked" : "") + "]";
    }

    private void checkWritable() {
        if (readOnly) {
            throw new IllegalStateException(path + ": store is open read-only");
        }
    }

    private static void checkOffset(long offset) {
        if (offset < 0) {
            throw new IllegalArgumentException("negative offset " + offset);
        }
    }

    private static IOException add(IOException first, IOException next) {
        if (first == null) {
            return next;
        }
        first.addSuppressed(next);
        return first;
    }

    private static void closeQuietly(AutoCloseable c, Throwable into) {
        if (c == null) {
            return;
        }
        try {
            c.close();
        } catch (Exception e) {
            into.addSuppressed(e);
        }
    }
}
