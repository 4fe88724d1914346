package org.vmsnap.qcow2;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

import org.vmsnap.qcow2.io.FileBlockStore;

/**
 * Removing image files, the only way vmsnap removes one. A file is removed while vmsnap holds
 * QEMU's write lock on it: a QEMU, qemu-img, qemu-io or another vmsnap that has it open (for
 * reading or writing) makes the lock fail, and then the file stays. Which files may be
 * removed at all (only files vmsnap made and nothing needs) is the caller's decision.
 */
public final class ImageFiles {
    private ImageFiles() {
    }

    /**
     * Removes {@code file} unless another process holds it.
     *
     * @return false when there was no such file
     * @throws ImageInUseException when another process holds the file (it is kept), or the
     *                             path is a symbolic link or was replaced while locking
     */
    public static boolean deleteUnlessInUse(Path file) throws IOException {
        return delete(file, null);
    }

    /**
     * Removes {@code file}, which this command made, unless another process holds it or the
     * path no longer names the file that had {@code fileKey} (see {@link #fileKey}) when it
     * was made: a file put in its place meanwhile is not this command's to remove.
     *
     * @return false when there was no such file
     * @throws ImageInUseException when the file is held, replaced, or not a regular file (kept)
     */
    public static boolean deleteMadeFile(Path file, Object fileKey) throws IOException {
        return delete(file, fileKey); // null (no identity known): as deleteUnlessInUse
    }

    /** The identity (device and inode) of the file {@code file} names now, without following a link. */
    public static Object fileKey(Path file) throws IOException {
        return Files.readAttributes(file, java.nio.file.attribute.BasicFileAttributes.class,
                LinkOption.NOFOLLOW_LINKS).fileKey();
    }

    private static boolean delete(Path file, Object expectedKey) throws IOException {
        if (!Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
            return false;
        }
        if (Files.isSymbolicLink(file) || !Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
            throw new ImageInUseException(file, "not removed: not a regular file");
        }
        try (FileBlockStore store = FileBlockStore.open(file, false, false)) {
            // the file held and locked is the one made (deleteFile then checks the path names it)
            if (expectedKey != null && !expectedKey.equals(store.fileKey())) {
                throw new ImageInUseException(file, "not removed: another file was put in its place");
            }
            store.deleteFile();
        } catch (java.nio.file.NoSuchFileException e) {
            return false; // gone between the check and the open
        }
        return true;
    }

    /** Whether another process holds {@code file} open with QEMU's locks (nothing is changed). */
    public static boolean inUse(Path file) throws IOException {
        try (FileBlockStore store = FileBlockStore.open(file, false, false)) {
            return false;
        } catch (ImageInUseException e) {
            return true;
        }
    }
}
