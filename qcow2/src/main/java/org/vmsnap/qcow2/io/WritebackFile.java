package org.vmsnap.qcow2.io;

import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;

/**
 * A file opened read-only to steer the page cache over it: start the kernel's writeback of its
 * dirty pages while another process writes it ({@link NativeFile#startWriteback}), or drop its
 * clean pages. Takes no lock and changes no byte of the file.
 */
public final class WritebackFile implements Closeable {
    private final NativeFile file;

    private WritebackFile(NativeFile file) {
        this.file = file;
    }

    /** Whether this platform has the call (Linux x86_64/aarch64 with native access). */
    public static boolean isAvailable() {
        return NativeFile.isAvailable();
    }

    /** Opens {@code path} read-only, without waiting (a FIFO there does not block the open). */
    public static WritebackFile open(Path path) throws IOException {
        return new WritebackFile(NativeFile.openReadOnlyNonBlocking(path));
    }

    /** Starts writing back what is dirty now; waits for none of it. */
    public void start() throws IOException {
        file.startWriteback();
    }

    /** Drops the file's clean pages from the page cache (see {@link NativeFile#dropCleanPages}). */
    public void dropCleanPages() throws IOException {
        file.dropCleanPages();
    }

    @Override
    public void close() throws IOException {
        file.close();
    }
}
