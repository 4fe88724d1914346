package org.vmsnap.qcow2.io;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * Positional storage under an image: a file, or memory in tests. No shared file position:
 * every call names its offset, so concurrent readers never race on a seek.
 *
 * <p>Reads past the end give zeros for the missing part (a qcow2 file may end inside its
 * last cluster); writes past the end extend the store.
 */
public interface BlockStore extends Closeable {

    /** The file behind the store (for messages), or a descriptive pseudo path for memory. */
    Path path();

    /** Current length in bytes. */
    long size() throws IOException;

    /** Fills dst.remaining() bytes from hostOffset; bytes past the end read as zeros. */
    void read(long hostOffset, ByteBuffer dst) throws IOException;

    /** Writes all of src at hostOffset. */
    void write(long hostOffset, ByteBuffer src) throws IOException;

    /**
     * Writes all of {@code src} at {@code hostOffset} into a range that reads as zeros before
     * the write (past the end of the file when it was chosen): a store may leave out the
     * {@code block}-aligned blocks of {@code src} that are all zeros, as long as the range
     * reads the same afterwards and the size covers its end. A plain write by default.
     */
    default void writeIntoZeros(long hostOffset, ByteBuffer src, int block) throws IOException {
        write(hostOffset, src);
    }

    /** Sets the length (grow with a hole, or cut). */
    void truncate(long sizeBytes) throws IOException;

    /** Makes all writes so far durable (fdatasync). */
    void flush() throws IOException;

    /**
     * Gives the range back to the file system so it reads as zeros and takes no space.
     * Returns false when the store cannot punch holes (then the caller may write zeros).
     */
    boolean punchHole(long hostOffset, long lengthBytes) throws IOException;

    /** Bytes allocated on the file system (st_blocks * 512), or the size for memory. */
    long allocatedBytes() throws IOException;

    /**
     * The next offset at or after hostOffset that holds data (SEEK_DATA), or -1 when none;
     * a store that cannot tell returns hostOffset when hostOffset &lt; size().
     */
    long nextData(long hostOffset) throws IOException;

    /**
     * The next offset at or after hostOffset that is a hole (SEEK_HOLE); size() at the end;
     * a store that cannot tell returns size().
     */
    long nextHole(long hostOffset) throws IOException;

    boolean isReadOnly();

    /** Sets how writes and flushes reach the disk; stores without a disk ignore it. */
    default void setCacheMode(org.vmsnap.qcow2.CacheMode mode) {
    }

    /**
     * Whether {@link #write} may be called from several threads at once for disjoint ranges
     * (a file's positional writes may; test stores that record operations in order may not).
     */
    default boolean concurrentWrites() {
        return false;
    }

    default org.vmsnap.qcow2.CacheMode cacheMode() {
        return org.vmsnap.qcow2.CacheMode.WRITEBACK;
    }

    /**
     * Gives {@code [hostOffset, hostOffset + lengthBytes)} disk space now, past the end too
     * without changing the size, so that writes into it cannot fail for want of space later.
     *
     * @return false when the store cannot reserve space (then nothing was done)
     */
    default boolean reserve(long hostOffset, long lengthBytes) throws IOException {
        return false;
    }
}
