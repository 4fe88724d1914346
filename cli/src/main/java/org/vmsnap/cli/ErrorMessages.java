package org.vmsnap.cli;

import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;

import picocli.CommandLine;

/** Turns any failure into the one line the user sees after "vmsnap: ". */
public final class ErrorMessages {
    /** strerror(EISDIR), the reason the engine gives for a directory where a file should be. */
    private static final String IS_A_DIRECTORY = "Is a directory";

    private ErrorMessages() {
    }

    public static String of(Throwable t) {
        String message = switch (t) {
            case CliException e -> e.getMessage();
            case NoSuchFileException e -> "Could not open '" + e.getFile() + "': No such file or directory";
            case AccessDeniedException e -> "Could not open '" + e.getFile() + "': Permission denied";
            case FileAlreadyExistsException e -> e.getFile()
                    + ": file exists; vmsnap does not overwrite images (remove it first)";
            // qemu-img's words for opening a directory as an image (it opens it read-only first).
            case FileSystemException e when IS_A_DIRECTORY.equals(e.getReason()) -> "Could not open '" + e.getFile()
                    + "': 'file' driver requires '" + e.getFile() + "' to be a regular file";
            case FileSystemException e -> e.getReason() == null ? e.getMessage()
                    : e.getFile() + ": " + e.getReason();
            case CommandLine.ParameterException e -> e.getMessage();
            default -> t.getMessage() != null ? t.getMessage() : t.toString();
        };
        return oneLine(message);
    }

    /**
     * Errors are one line: later lines join the first. A trailing space on that line stays, as
     * in qemu-img's "Invalid cache option: " for an empty mode; trailing line breaks go.
     */
    static String oneLine(String message) {
        String m = message.stripLeading();
        if (!m.substring(m.stripTrailing().length()).matches("[ \\t]*")) {
            m = m.stripTrailing(); // ends in line breaks
        }
        return m.replaceAll("\\s*\\R\\s*", " ");
    }
}
