package org.vmsnap.qmp;

/**
 * QEMU (or the guest agent) answered a command with an error. Keeps QEMU's error class
 * ({@code GenericError}, {@code CommandNotFound}, {@code DeviceNotFound}, ...) and its
 * description, so callers can react to the class instead of parsing text.
 */
public class QmpCommandException extends QmpException {

    private final String command;
    private final String errorClass;
    private final String description;

    public QmpCommandException(String command, String errorClass, String description) {
        this(command, errorClass, description, command + " failed: " + errorClass + ": " + description);
    }

    /** The same, with the local failure that revealed QEMU's error (e.g. a closed socket). */
    public QmpCommandException(String command, String errorClass, String description, Throwable cause) {
        this(command, errorClass, description);
        initCause(cause);
    }

    protected QmpCommandException(String command, String errorClass, String description, String message) {
        super(message);
        this.command = command;
        this.errorClass = errorClass;
        this.description = description;
    }

    /** The command that failed, e.g. {@code blockdev-snapshot-sync}. */
    public String command() {
        return command;
    }

    /** QEMU's error class, e.g. {@code GenericError} or {@code CommandNotFound}. */
    public String errorClass() {
        return errorClass;
    }

    /** QEMU's human-readable description. */
    public String description() {
        return description;
    }
}
