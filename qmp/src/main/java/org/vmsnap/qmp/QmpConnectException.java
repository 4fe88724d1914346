package org.vmsnap.qmp;

/** The socket is missing, refuses connections, or the peer never greeted. */
public final class QmpConnectException extends QmpException {

    public QmpConnectException(String message, Throwable cause) {
        super(message, cause);
    }
}
