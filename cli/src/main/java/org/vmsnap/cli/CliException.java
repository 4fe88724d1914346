package org.vmsnap.cli;

/**
 * A failure to report to the user as one line ({@code vmsnap: message}) with the given
 * exit code; no stack trace unless {@code --debug}.
 */
public final class CliException extends RuntimeException {
    private final int exitCode;

    public CliException(String message) {
        this(1, message);
    }

    public CliException(int exitCode, String message) {
        super(message);
        this.exitCode = exitCode;
    }

    public CliException(int exitCode, String message, Throwable cause) {
        super(message, cause);
        this.exitCode = exitCode;
    }

    public int exitCode() {
        return exitCode;
    }
}
