package org.vmsnap.qcow2;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.Map;

/**
 * Remembers which image files a read-write open found with consistent refcounts, so the next
 * read-write open can skip the walk over all the metadata (its cost grows with the image).
 *
 * <p>A record names one file by device and inode and holds what any write to the file by
 * anyone changes: the size, the mtime and the ctime (which no user can set back). vmsnap
 * writes the record only when it closes an image it found consistent and then wrote itself,
 * after the last sync and while it still holds the image's write lock. QEMU, qemu-io or
 * anything else writing the file later moves its ctime, so the record no longer matches and
 * the next open walks again. A record never makes an image trusted that vmsnap did not check.
 *
 * <p>Off until {@link #rememberIn} names a folder (the CLI does; the library's default is
 * the full walk on every read-write open). Losing the folder only costs a walk.
 */
public final class VerifiedImages {
    /**
     * File timestamps come from a coarse kernel clock (a few ms). A record is written only
     * when its ctime is older than this, so a later write can never share its timestamp
     * (or sooner, once the image's file system stamps later: {@link #waitForNextTimestamp}).
     */
    private static final long TICK_MARGIN_NANOS = 20_000_000L;
    private static volatile Path folder;

    private VerifiedImages() {
    }

    /** Keeps records in {@code dir} (made when first needed); null turns remembering off. */
    public static void rememberIn(Path dir) {
        folder = dir;
    }

    /** What a write to a file changes. */
    record Stamp(long dev, long ino, long size, FileTime mtime, FileTime ctime) {
        String key() {
            return Long.toUnsignedString(dev, 16) + "-" + Long.toUnsignedString(ino, 16);
        }

        String line() {
            return "vmsnap-verified 1 " + size + " " + nanos(mtime) + " " + nanos(ctime) + "\n";
        }
    }

    private static long nanos(FileTime t) {
        Instant i = t.toInstant();
        return Math.addExact(Math.multiplyExact(i.getEpochSecond(), 1_000_000_000L), i.getNano());
    }

    static Stamp stamp(Path file) throws IOException {
        // Follows symbolic links: the stamp must be the image's own, which writes move.
        Map<String, Object> a = Files.readAttributes(file, "unix:dev,ino,size,lastModifiedTime,ctime");
        return new Stamp((Long) a.get("dev"), (Long) a.get("ino"), (Long) a.get("size"),
                (FileTime) a.get("lastModifiedTime"), (FileTime) a.get("ctime"));
    }

    /** True when the file is exactly as vmsnap left it after finding it consistent. */
    public static boolean isVerified(Path file) {
        Path dir = folder;
        if (dir == null) {
            return false;
        }
        try {
            Stamp s = stamp(file);
            Path record = dir.resolve(s.key());
            return Files.isRegularFile(record, LinkOption.NOFOLLOW_LINKS) && Files.size(record) < 128
                    && Files.readString(record, StandardCharsets.US_ASCII).equals(s.line());
        } catch (IOException | RuntimeException e) {
            return false; // no unix attributes, unreadable record: walk
        }
    }

    /**
     * Records the file as it is now. Call only while holding its write lock, after the last
     * write is synced. Waits out the timestamp granularity when the last write was just now.
     * Failures are ignored: the next open walks.
     */
    public static void remember(Path file) {
        Path dir = folder;
        if (dir == null) {
            return;
        }
        try {
            Stamp s = stamp(file);
            Files.createDirectories(dir);
            Path tmp = Files.createTempFile(dir, ".rec", ".tmp");
            try {
                Files.writeString(tmp, s.line(), StandardCharsets.US_ASCII);
                if (!waitForNextTimestamp(file, s, tmp)) {
                    return;
                }
                try {
                    Files.move(tmp, dir.resolve(s.key()), StandardCopyOption.ATOMIC_MOVE,
                            StandardCopyOption.REPLACE_EXISTING);
                } catch (AtomicMoveNotSupportedException e) {
                    Files.move(tmp, dir.resolve(s.key()), StandardCopyOption.REPLACE_EXISTING);
                }
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException | RuntimeException e) {
            // a cache: no record, the next open walks
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Returns once a write to the image could no longer get the timestamp {@code s} holds
     * (false when the image changed meanwhile). Either the wall clock is {@link
     * #TICK_MARGIN_NANOS} past its ctime, or, quicker, the file system already stamps later:
     * the record's temporary file {@code probe} (rewritten each try) has a later mtime than the
     * image's ctime. The probe counts only on the image's own file system (same device): one
     * kernel clock and one timestamp granularity, and timestamps there never go backwards,
     * so any later write to the image gets a ctime at least the probe's. Elsewhere only the
     * margin counts. The probe usually passes within one clock tick (1-4 ms), not 20 ms.
     */
    private static boolean waitForNextTimestamp(Path file, Stamp s, Path probe) throws IOException, InterruptedException {
        boolean sameDevice = ((Long) Files.getAttribute(probe, "unix:dev")) == s.dev();
        while (true) {
            long age = nanos(FileTime.from(Instant.now())) - nanos(s.ctime());
            if (age >= TICK_MARGIN_NANOS) {
                break;
            }
            if (sameDevice && Files.getLastModifiedTime(probe).compareTo(s.ctime()) > 0) {
                break;
            }
            Thread.sleep(1);
            Files.writeString(probe, s.line(), StandardCharsets.US_ASCII); // a fresh mtime
        }
        return stamp(file).equals(s); // someone wrote meanwhile: no record
    }

    /** Drops the file's record (before a write that might not end in {@link #remember}). */
    public static void forget(Path file) {
        Path dir = folder;
        if (dir == null) {
            return;
        }
        try {
            Files.deleteIfExists(dir.resolve(stamp(file).key()));
        } catch (IOException | RuntimeException e) {
            // the ctime check still protects: any write moves it
        }
    }
}
