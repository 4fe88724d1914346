package org.vmsnap.qcow2.io;

import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;

/**
 * A file opened read-only to start the kernel's writeback of its dirty pages while another
 * process writes it (see {@link NativeFile#startWriteback}). Takes no lock and changes nothing.
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

    @Override
    public void close() throws IOException {
        file.close();
    }
}
