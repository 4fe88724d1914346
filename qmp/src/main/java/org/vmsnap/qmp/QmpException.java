package org.vmsnap.qmp;

import java.io.IOException;

/**
 * A failure talking to QEMU's monitor or guest agent. The subclasses say what to do about
 * it: {@link QmpConnectException} (nothing listens), {@link QmpProtocolException} (the
 * peer spoke something that is not QMP), {@link QmpCommandException} (QEMU refused a
 * command, with its error class), {@link QmpDisconnectedException} (the peer went away),
 * {@link QmpTimeoutException} (no answer in time).
 */
public class QmpException extends IOException {

    public QmpException(String message) {
        super(message);
    }

    public QmpException(String message, Throwable cause) {
        super(message, cause);
    }
}
