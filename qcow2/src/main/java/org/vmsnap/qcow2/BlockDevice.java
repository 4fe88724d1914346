package org.vmsnap.qcow2;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * A virtual disk as the guest sees it: qcow2 or raw, the same interface for both, so
 * backing files and {@code convert} do not care which format they read.
 *
 * <p>All offsets are guest offsets in bytes. Reads past {@link #size()} are refused;
 * reads of unallocated ranges give zeros (or the backing file's bytes).
 */
public interface BlockDevice extends Closeable {

    /** The image file this device reads. */
    Path path();

    /** "qcow2" or "raw", as qemu-img names formats. */
    String format();

    /** Virtual disk size in bytes. */
    long size();

    boolean isReadOnly();

    /** Fills {@code dst} from {@code guestOffset}; {@code dst.remaining()} bytes are read. */
    void read(long guestOffset, ByteBuffer dst) throws IOException;

    /** Writes all of {@code src} at {@code guestOffset}. */
    void write(long guestOffset, ByteBuffer src) throws IOException;

    /** Makes the range read as zeros (zero clusters where the format has them). */
    void writeZeroes(long guestOffset, long lengthBytes) throws IOException;

    /** Drops the range's data; it reads as zeros or from the backing file afterwards. */
    void discard(long guestOffset, long lengthBytes) throws IOException;

    /** Makes everything written so far durable. */
    void flush() throws IOException;

    /**
     * Where the bytes at {@code guestOffset} come from, for at most {@code maxLengthBytes}
     * bytes: the returned status covers a prefix of the range that shares one status.
     */
    BlockStatus blockStatus(long guestOffset, long maxLengthBytes) throws IOException;

    /** Bytes the image file occupies on the file system (st_blocks * 512). */
    long allocatedFileBytes() throws IOException;

    /**
     * Sets how this device's writes and flushes reach the disk (qemu-img's {@code -t}). A
     * device that never writes its file ignores it; the default is {@link CacheMode#WRITEBACK}.
     */
    default void useCacheMode(CacheMode mode) {
    }

    /**
     * Writes {@code src} like {@link #write}, possibly after returning: a device with parallel
     * writes on ({@link #useParallelWrites}) hands whole clusters to other threads and keeps
     * {@code src} until then; {@code release} runs (on any thread) once {@code src} is no longer
     * needed. A failed write is thrown by a later call (a queued write, a flush, close), once the
     * device is consistent again. Reads and changes of a range wait for its writes in flight.
     */
    default void writeQueued(long guestOffset, ByteBuffer src, Runnable release) throws IOException {
        try {
            write(guestOffset, src);
        } finally {
            release.run();
        }
    }

    /**
     * Lets up to {@code threads} data writes of {@link #writeQueued} be in flight at once (1: each
     * write ends before the call returns). Devices that cannot write in parallel ignore it.
     */
    default void useParallelWrites(int threads) throws IOException {
    }

    @Override
    void close() throws IOException;
}
