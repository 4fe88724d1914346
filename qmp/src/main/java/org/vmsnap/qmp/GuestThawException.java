package org.vmsnap.qmp;

/**
 * The guest's filesystems could not be thawed after a freeze: the guest may still be
 * frozen and its writes blocked. Whoever sees this must tell the user, or thaw later.
 */
public final class GuestThawException extends QmpException {

    public GuestThawException(String message, Throwable cause) {
        super(message, cause);
    }
}
