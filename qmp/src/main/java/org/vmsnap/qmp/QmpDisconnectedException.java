package org.vmsnap.qmp;

/** The connection closed (QEMU exited, the agent went away) while a call was waiting. */
public final class QmpDisconnectedException extends QmpException {

    public QmpDisconnectedException(String message, Throwable cause) {
        super(message, cause);
    }
}
