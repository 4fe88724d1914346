package org.vmsnap.manager;

/** The request itself is wrong (bad name, bad XML, unknown disk, conflicting flags); nothing was changed. */
public class InvalidInputException extends ManagerException {
    private static final long serialVersionUID = 1L;

    public InvalidInputException(String message) {
        super(message);
    }

    public InvalidInputException(String message, Throwable cause) {
        super(message, cause);
    }
}
