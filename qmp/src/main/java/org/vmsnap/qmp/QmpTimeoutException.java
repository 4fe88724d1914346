package org.vmsnap.qmp;

/** No reply, event or guest-agent answer arrived within the caller's time limit. */
public final class QmpTimeoutException extends QmpException {

    public QmpTimeoutException(String message) {
        super(message);
    }
}
