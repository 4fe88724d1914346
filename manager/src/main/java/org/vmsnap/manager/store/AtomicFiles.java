package org.vmsnap.manager.store;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Metadata files are replaced, never edited: write a temporary file beside the target, fsync it,
 * rename it over the target, fsync the folder. A crash leaves the old file or the new one.
 */
public final class AtomicFiles {
    private AtomicFiles() {
    }

    private static final java.nio.file.attribute.FileAttribute<?> PRIVATE_FOLDER =
            java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                    java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));

    /**
     * Creates the folders vmsnap keeps its metadata in (state folder, mirror) as missing, mode
     * 0700: they name snapshots and images and hold the journal. A folder that is a symbolic
     * link is refused: vmsnap does not write its metadata through a link someone could have
     * pointed anywhere.
     */
    public static void privateDirectories(Path dir) throws IOException {
        if (Files.isSymbolicLink(dir)) {
            throw new IOException(dir + ": is a symbolic link; vmsnap keeps its metadata only in real folders");
        }
        if (Files.isDirectory(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        Path parent = dir.toAbsolutePath().getParent();
        if (parent != null && !Files.isDirectory(parent)) {
            privateDirectories(parent);
        }
        try {
            Files.createDirectory(dir, PRIVATE_FOLDER);
        } catch (java.nio.file.FileAlreadyExistsException e) {
            if (!Files.isDirectory(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                throw new IOException(dir + ": exists and is not a folder", e);
            }
        }
    }

    public static void write(Path target, String content) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        privateDirectories(dir);
        Path tmp = dir.resolve("." + target.getFileName() + ".tmp");
        // A temporary file left by a crash is vmsnap's; a symbolic link planted there is removed,
        // never followed: the new file is created exclusively.
        Files.deleteIfExists(tmp);
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
                java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            ByteBuffer b = ByteBuffer.wrap(content.getBytes(StandardCharsets.UTF_8));
            while (b.hasRemaining()) {
                ch.write(b);
            }
            ch.force(true);
        }
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException(target + ": the file system cannot rename atomically", e);
        }
        syncFolder(dir);
    }

    /** Removes a file (if present) durably. */
    public static void delete(Path target) throws IOException {
        if (Files.deleteIfExists(target)) {
            syncFolder(target.toAbsolutePath().getParent());
        }
    }

    /** The file's text, or null when it does not exist. */
    public static String readOrNull(Path file) throws IOException {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (java.nio.file.NoSuchFileException e) {
            return null;
        }
    }

    public static void syncFolder(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }
}
