package org.vmsnap.manager.plan;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;

import org.vmsnap.manager.ManagerException;
import org.vmsnap.manager.store.AtomicFiles;

/**
 * Files a plan makes under names the user can see. A file is written under a partial name that
 * only this plan uses ({@code .vmsnap-partial-<plan id>-<n>} in the same folder), then given
 * its real name with a hard link, which fails if that name is taken: vmsnap never replaces a
 * file. Until the plan ends, the partial link proves that the file under the real name is the
 * one the plan made (same inode), so an undo, even by a later process after a crash, removes
 * that file and never one that someone else put there meanwhile.
 */
public final class MadeFiles {
    /** The prefix of partial names; nothing else in vmsnap or outside uses it. */
    public static final String PARTIAL_PREFIX = ".vmsnap-partial-";

    private MadeFiles() {
    }

    /** Whether {@code target} is the file this plan made through {@code partial}. */
    public static boolean isOurs(Path target, Path partial) throws IOException {
        if (!Files.exists(target, LinkOption.NOFOLLOW_LINKS) || !Files.exists(partial, LinkOption.NOFOLLOW_LINKS)) {
            return false;
        }
        Object a = Files.readAttributes(target, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
        Object b = Files.readAttributes(partial, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
        return a != null && a.equals(b);
    }

    /** Gives the finished file at {@code partial} its real name; refuses a name that is taken. */
    static void publish(Path partial, Path target, String disk) throws IOException {
        try {
            Files.createLink(target, partial);
        } catch (FileAlreadyExistsException e) {
            throw new ManagerException("disk " + disk + ": " + target + " already exists (it appeared after the"
                    + " operation was planned); it is not vmsnap's and is left alone", e);
        }
        AtomicFiles.syncFolder(target.toAbsolutePath().getParent());
    }

    /** Removes a partial link (a name only this plan uses) if it is there. */
    static void dropPartial(Path partial) throws IOException {
        if (!partial.getFileName().toString().startsWith(PARTIAL_PREFIX)) {
            throw new IllegalArgumentException("not a partial name: " + partial);
        }
        if (Files.deleteIfExists(partial)) {
            AtomicFiles.syncFolder(partial.toAbsolutePath().getParent());
        }
    }
}
