package org.vmsnap.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * A qcow2 image: the facade over the engine. Opening validates the header and takes
 * QEMU-compatible locks; every method delegates to the engine package.
 */
public final class Qcow2Image implements BlockDevice {

    private Qcow2Image() {
    }

    /** Creates a new qcow2 file (refusing to overwrite an existing one) and opens it read-write. */
    public static Qcow2Image create(Path file, Qcow2CreateOptions options) throws IOException {
        throw new UnsupportedOperationException("engine not yet written");
    }

    /** Opens an existing qcow2 file (with its backing chain unless told not to). */
    public static Qcow2Image open(Path file, OpenOptions options) throws IOException {
        throw new UnsupportedOperationException("engine not yet written");
    }

    /**
     * Checks (and with {@code repair} other than NONE, repairs) an image. Opens the file
     * itself: a check must work on images that a normal open refuses as corrupt.
     */
    public static CheckResult check(Path file, RepairMode repair) throws IOException {
        throw new UnsupportedOperationException("engine not yet written");
    }

    public ImageInfo info() throws IOException {
        throw new UnsupportedOperationException();
    }

    /** Grows the disk; shrinks only when the cut-off part holds no data. */
    public void resize(long newSizeBytes) throws IOException {
        throw new UnsupportedOperationException();
    }

    /** The opened backing file, or null. */
    public BlockDevice backing() {
        throw new UnsupportedOperationException();
    }

    @Override public Path path() { throw new UnsupportedOperationException(); }
    @Override public String format() { return "qcow2"; }
    @Override public long size() { throw new UnsupportedOperationException(); }
    @Override public boolean isReadOnly() { throw new UnsupportedOperationException(); }
    @Override public void read(long guestOffset, ByteBuffer dst) throws IOException { throw new UnsupportedOperationException(); }
    @Override public void write(long guestOffset, ByteBuffer src) throws IOException { throw new UnsupportedOperationException(); }
    @Override public void writeZeroes(long guestOffset, long lengthBytes) throws IOException { throw new UnsupportedOperationException(); }
    @Override public void discard(long guestOffset, long lengthBytes) throws IOException { throw new UnsupportedOperationException(); }
    @Override public void flush() throws IOException { throw new UnsupportedOperationException(); }
    @Override public BlockStatus blockStatus(long guestOffset, long maxLengthBytes) throws IOException { throw new UnsupportedOperationException(); }
    @Override public long allocatedFileBytes() throws IOException { throw new UnsupportedOperationException(); }
    @Override public void close() throws IOException { throw new UnsupportedOperationException(); }
}
