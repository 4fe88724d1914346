package org.vmsnap.cli;

/**
 * A failure to report to the user as one line ({@code vmsnap: message}) with the given
 * exit code; no stack trace unless {@code --debug}.
 */
public final class CliException extends RuntimeException {
    private final int exitCode;
    private final String hint;

    public CliException(String message) {
        this(1, message);
    }

    public CliException(int exitCode, String message) {
        this(exitCode, message, "");
    }

    public CliException(int exitCode, String message, Throwable cause) {
        super(message, cause);
        this.exitCode = exitCode;
        this.hint = "";
    }

    /**
     * A failure followed by lines of advice (the nearest command names): the message stays one
     * line, the hint is printed below it as it is.
     */
    public CliException(int exitCode, String message, String hint) {
        super(message);
        this.exitCode = exitCode;
        this.hint = hint;
    }

    public int exitCode() {
        return exitCode;
    }

    /** Lines to print after the message (each ending with a newline), or "". */
    public String hint() {
        return hint;
    }
}
