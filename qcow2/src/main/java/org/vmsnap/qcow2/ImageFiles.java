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
        if (!Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
            return false;
        }
        if (Files.isSymbolicLink(file) || !Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
            throw new ImageInUseException(file, "not removed: not a regular file");
        }
        try (FileBlockStore store = FileBlockStore.open(file, false, false)) {
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
