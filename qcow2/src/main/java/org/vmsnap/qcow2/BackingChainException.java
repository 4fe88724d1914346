package org.vmsnap.qcow2;

import java.nio.file.Path;

/** The backing chain cannot be opened safely: missing file, refused name, cycle, too deep, wrong format. */
public final class BackingChainException extends ImageException {
    public BackingChainException(Path file, String message) {
        super(file, message);
    }

    public BackingChainException(Path file, String message, Throwable cause) {
        super(file, message, cause);
    }
}
