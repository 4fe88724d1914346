package org.vmsnap.manager;

import java.io.IOException;

/**
 * A snapshot-manager operation could not be done; the message is one line that names the
 * domain, snapshot, disk or file concerned. Subclasses say what the user can do about it.
 */
public class ManagerException extends IOException {
    private static final long serialVersionUID = 1L;

    public ManagerException(String message) {
        super(message);
    }

    public ManagerException(String message, Throwable cause) {
        super(message, cause);
    }
}
