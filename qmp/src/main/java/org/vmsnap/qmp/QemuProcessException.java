package org.vmsnap.qmp;

import java.io.IOException;

/**
 * QEMU could not be started, found or stopped: it exited during start-up (the message
 * holds the end of its log), a pid file is stale or names a process that is not this run
 * folder's QEMU, or it would not die.
 */
public final class QemuProcessException extends IOException {

    public QemuProcessException(String message) {
        super(message);
    }

    public QemuProcessException(String message, Throwable cause) {
        super(message, cause);
    }
}
