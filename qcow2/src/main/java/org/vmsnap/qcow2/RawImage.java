package org.vmsnap.qcow2;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Objects;

import org.vmsnap.qcow2.io.BlockStore;
import org.vmsnap.qcow2.io.WriteBehind;
import org.vmsnap.qcow2.io.FileBlockStore;

/**
 * A raw disk image: guest offset N is byte N of the file. The virtual size is the file
 * size rounded up to whole 512-byte sectors, as QEMU reports it; the missing tail of the
 * last sector reads as zeros.
 *
 * <p>{@link #blockStatus} answers like QEMU's file driver does for {@code qemu-img map}:
 * data extents and holes of the file (as far as the {@link BlockStore} can tell them
 * apart), every run present at depth 0 with its host offset equal to its guest offset.
 */
public final class RawImage implements BlockDevice {

    /** QEMU counts raw sizes in 512-byte sectors and rounds a partial last sector up. */
    static final int SECTOR_BYTES = 512;

    /**
     * QEMU writes zeros over the first block of a new raw file so that later alignment
     * probing finds allocated storage; doing the same keeps {@code map} and {@code info}
     * of our files identical to qemu-img's.
     */
    static final int FIRST_BLOCK_BYTES = 4096;

    /** Largest buffer used when a zero range has to be written out byte by byte. */
    private static final int ZERO_CHUNK_BYTES = 1 << 20;

    private final BlockStore store;
    /** Data writes in flight on other threads, or null (see {@link #useParallelWrites}). */
    private WriteBehind behind;
    private final boolean readOnly;
    private volatile long sizeBytes;

    /** Wraps an open store; the image owns it from now on and closes it. */
    RawImage(BlockStore store, boolean readOnly) throws IOException {
        this.store = Objects.requireNonNull(store, "store");
        this.readOnly = readOnly;
        this.sizeBytes = roundUpToSector(store.size());
    }

    /** Opens an existing raw file, with QEMU-compatible image locks unless {@code forceShare}. */
    public static RawImage open(Path file, OpenOptions options) throws IOException {
        return new RawImage(FileBlockStore.open(file, options.readOnly(), options.forceShare()), options.readOnly());
    }

    /**
     * Creates a sparse raw file of {@code sizeBytes} rounded up to whole sectors (as QEMU
     * does), refusing to overwrite an existing file, with its first block allocated as QEMU
     * does.
     */
    public static void create(Path file, long sizeBytes) throws IOException {
        if (sizeBytes < 0) {
            throw new IllegalArgumentException("negative image size: " + sizeBytes);
        }
        long fileBytes = roundUpToSector(sizeBytes);
        FileBlockStore s = FileBlockStore.create(file);   // refuses an existing file: nothing to undo
        try (s) {
            try {
                s.truncate(fileBytes);
                int first = (int) Math.min(fileBytes, FIRST_BLOCK_BYTES);
                if (first > 0) {
                    s.write(0, ByteBuffer.allocate(first));
                }
                s.flush();
            } catch (IOException | RuntimeException e) {
                try {
                    s.deleteFile(); // made by this call and still locked by it
                } catch (IOException | RuntimeException cleanup) {
                    e.addSuppressed(cleanup);
                }
                throw e;
            }
        }
    }

    static long roundUpToSector(long bytes) {
        long rem = bytes % SECTOR_BYTES;
        return rem == 0 ? bytes : Math.addExact(bytes, SECTOR_BYTES - rem);
    }

    @Override
    public Path path() {
        return store.path();
    }

    @Override
    public String format() {
        return "raw";
    }

    @Override
    public long size() {
        return sizeBytes;
    }

    @Override
    public boolean isReadOnly() {
        return readOnly;
    }

    @Override
    public void read(long guestOffset, ByteBuffer dst) throws IOException {
        checkRange(guestOffset, dst.remaining());
        settle(guestOffset, dst.remaining());
        store.read(guestOffset, dst);
    }

    @Override
    public void write(long guestOffset, ByteBuffer src) throws IOException {
        checkWritable();
        checkRange(guestOffset, src.remaining());
        settle(guestOffset, src.remaining());
        store.write(guestOffset, src);
    }

    /** With parallel writes on, the bytes go to the file on another thread (a raw file has no metadata to order). */
    @Override
    public void writeQueued(long guestOffset, ByteBuffer src, Runnable release) throws IOException {
        if (behind == null || !store.concurrentWrites()) {
            BlockDevice.super.writeQueued(guestOffset, src, release);
            return;
        }
        try {
            checkWritable();
            checkRange(guestOffset, src.remaining());
            settle(guestOffset, src.remaining());
        } catch (IOException | RuntimeException e) {
            release.run();
            throw e;
        }
        behind.submit(store, guestOffset, src, release, guestOffset, guestOffset + src.remaining(), failure -> { });
    }

    @Override
    public void useParallelWrites(int threads) throws IOException {
        WriteBehind old = behind;
        behind = null; // a failing close leaves synchronous writes
        behind = WriteBehind.resize(old, threads, readOnly);
    }

    /** Waits for the writes in flight when one may touch {@code [guestOffset, +length)}. */
    private void settle(long guestOffset, long length) throws IOException {
        if (behind != null) {
            behind.settle(guestOffset, length);
        }
    }

    @Override
    public void writeZeroes(long guestOffset, long lengthBytes) throws IOException {
        checkWritable();
        checkRange(guestOffset, lengthBytes);
        settle(guestOffset, lengthBytes);
        if (lengthBytes == 0 || store.punchHole(guestOffset, lengthBytes)) {
            return;
        }
        ByteBuffer zeros = ByteBuffer.allocate((int) Math.min(lengthBytes, ZERO_CHUNK_BYTES));
        long done = 0;
        while (done < lengthBytes) {
            zeros.clear().limit((int) Math.min(zeros.capacity(), lengthBytes - done));
            store.write(guestOffset + done, zeros);
            done += zeros.limit();
        }
    }

    /** A raw file has nothing to fall back to: discarded bytes read as zeros. */
    @Override
    public void discard(long guestOffset, long lengthBytes) throws IOException {
        writeZeroes(guestOffset, lengthBytes);
    }

    @Override
    public void useCacheMode(CacheMode mode) {
        store.setCacheMode(mode);
    }

    @Override
    public void flush() throws IOException {
        if (!readOnly) {
            if (behind != null) {
                behind.drain();
            }
            store.flush();
        }
    }

    @Override
    public BlockStatus blockStatus(long guestOffset, long maxLengthBytes) throws IOException {
        if (maxLengthBytes <= 0) {
            throw new IllegalArgumentException("maxLengthBytes must be positive: " + maxLengthBytes);
        }
        checkRange(guestOffset, 1);
        settle(guestOffset, maxLengthBytes);
        long length = Math.min(maxLengthBytes, sizeBytes - guestOffset);
        long fileSize = store.size();
        if (guestOffset >= fileSize) {
            // The tail of the last sector past the end of the file.
            return hole(guestOffset, length);
        }
        long data = store.nextData(guestOffset);
        if (data < 0) {
            return hole(guestOffset, length);   // a hole that runs to the end of the file
        }
        if (data > guestOffset) {
            return hole(guestOffset, Math.min(length, data - guestOffset));
        }
        long hole = store.nextHole(guestOffset);
        long dataLength = Math.min(length, Math.max(hole, guestOffset + 1) - guestOffset);
        return new BlockStatus(dataLength, 0, true, false, true, false, guestOffset, store.path());
    }

    /** Holes are zeros that still belong to the file: present, with a valid host offset, like QEMU says. */
    private BlockStatus hole(long guestOffset, long length) {
        return new BlockStatus(length, 0, true, true, false, false, guestOffset, store.path());
    }

    @Override
    public long allocatedFileBytes() throws IOException {
        return store.allocatedBytes();
    }

    /** Sets the virtual size; the file is cut or grown sparsely to exactly {@code newSizeBytes}. */
    public void resize(long newSizeBytes) throws IOException {
        checkWritable();
        if (newSizeBytes < 0) {
            throw new IllegalArgumentException(path() + ": negative size " + newSizeBytes);
        }
        if (behind != null) {
            behind.drain();
        }
        store.truncate(newSizeBytes);
        sizeBytes = roundUpToSector(newSizeBytes);
    }

    /** Ends the writes in flight (a failure among them is thrown), then closes the file. */
    @Override
    public void close() throws IOException {
        WriteBehind b = behind;
        behind = null;
        try {
            if (b != null) {
                b.close();
            }
        } finally {
            store.close();
        }
    }

    private void checkRange(long guestOffset, long lengthBytes) {
        if (guestOffset < 0 || lengthBytes < 0 || guestOffset > sizeBytes - lengthBytes) {
            throw new IllegalArgumentException(path() + ": range " + ImageException.hex(guestOffset)
                    + "+" + lengthBytes + " is outside the disk (size " + sizeBytes + ")");
        }
    }

    private void checkWritable() {
        if (readOnly) {
            throw new IllegalStateException(path() + ": image is open read-only");
        }
    }
}
