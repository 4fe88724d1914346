package org.vmsnap.qcow2;

import java.nio.file.Path;

/** The file is not a qcow2 image at all (bad magic, too short for a header). */
public final class NotQcow2Exception extends ImageException {
    public NotQcow2Exception(Path file, String message) {
        super(file, message);
    }
}
