package org.vmsnap.qmp;

/** The peer sent something that is not a QMP message (not JSON, no greeting, ...). */
public final class QmpProtocolException extends QmpException {

    public QmpProtocolException(String message) {
        super(message);
    }

    public QmpProtocolException(String message, Throwable cause) {
        super(message, cause);
    }
}
