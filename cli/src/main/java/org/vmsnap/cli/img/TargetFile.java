package org.vmsnap.cli.img;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

import org.vmsnap.cli.CliException;
import org.vmsnap.cli.ErrorMessages;

/**
 * The new file of {@code create} and {@code convert}: refused up front when it cannot be made,
 * and a failure to make it said as qemu-img says it ("F: Could not create 'F': Is a directory"),
 * except that an existing file is never overwritten.
 *
 * @param file    the name as the user typed it
 * @param context what qemu-img puts between the name and "Could not create" ("" for create,
 *                "error while converting qcow2: " for convert)
 */
record TargetFile(String file, String context) {

    /** Refuses what creating the file would refuse, before anything is printed or opened. */
    void checkCreatable() {
        Path p = Path.of(file);
        if (Files.isDirectory(p)) {
            throw cannotCreate("Is a directory", null);
        }
        if (Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
            throw exists(null);
        }
        Path parent = p.toAbsolutePath().getParent();
        if (parent != null && !Files.isDirectory(parent)) {
            throw cannotCreate(Files.exists(parent) ? "Not a directory" : "No such file or directory", null);
        }
        if (parent != null && !Files.isWritable(parent)) {
            throw cannotCreate("Permission denied", null);
        }
    }

    /** The same words for a failure of the creation itself (the folder changed meanwhile). */
    CliException creating(IOException e) {
        if (!(e instanceof FileSystemException f) || !Path.of(file).toString().equals(f.getFile())) {
            return new CliException(1, ErrorMessages.of(e), e); // about another file (the backing file)
        }
        return switch (f) {
            case FileAlreadyExistsException x -> exists(x);
            case NoSuchFileException x -> cannotCreate("No such file or directory", x);
            case AccessDeniedException x -> cannotCreate("Permission denied", x);
            default -> f.getReason() != null ? cannotCreate(f.getReason(), f)
                    : new CliException(1, ErrorMessages.of(e), e);
        };
    }

    private CliException cannotCreate(String reason, Throwable cause) {
        return new CliException(1, file + ": " + context + "Could not create '" + file + "': " + reason, cause);
    }

    private CliException exists(Throwable cause) {
        return new CliException(1, file + ": file exists; vmsnap does not overwrite images (remove it first)", cause);
    }
}
