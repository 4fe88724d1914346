package org.vmsnap.qcow2;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Base of the engine's checked errors: each names the image file, and its message is one
 * line a user can act on. Subclasses exist per remedy, not per code path.
 */
public abstract class ImageException extends IOException {
    private final transient Path file;

    protected ImageException(Path file, String message) {
        super(file == null ? message : file + ": " + message);
        this.file = file;
    }

    protected ImageException(Path file, String message, Throwable cause) {
        super(file == null ? message : file + ": " + message, cause);
        this.file = file;
    }

    /** The image file concerned, or null when none is known. */
    public Path file() {
        return file;
    }

    /** Hex offset as the messages print them. */
    public static String hex(long offset) {
        return "0x" + Long.toHexString(offset);
    }
}
