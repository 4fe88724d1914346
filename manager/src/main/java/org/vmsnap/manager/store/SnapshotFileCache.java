package org.vmsnap.manager.store;

import java.io.IOException;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.vmsnap.manager.xml.SnapshotDef;

/**
 * Parsed snapshot files for a long-running process ({@code vmsnap serve}): a page that shows a
 * 1000-snapshot tree must not read and parse 1000 files, each with a full copy of the domain
 * definition, on every request. The CLI does not use it (one command, one read).
 *
 * <p>An entry is kept with the file's stamp taken <em>before</em> the file was read: inode,
 * size, change time (ctime, nanoseconds) and modification time. vmsnap writes metadata by
 * atomic rename (a new inode and a new ctime); any other edit, in place and of the same size,
 * still sets the ctime, which no user can set back. So an entry whose stamp still matches holds
 * what the file holds. Kernels take file times from a coarse clock (one tick, milliseconds), so
 * a second edit right after the first can keep the ctime: a file changed less than
 * {@link #RACY_NANOS} ago is parsed but not kept (git's "racily clean" entries). Symbolic links
 * and files without a UNIX stamp are never kept. A damaged file is never kept: it is parsed and
 * reported on every read. Safe to share because {@link SnapshotDef} (and the Domain in it) is
 * immutable.
 *
 * <p>Each full listing of a folder replaces that folder's entries by the files it saw, so a
 * deleted file's entry goes with the next read. Bounded in entries: least recently read folders
 * go first, and a folder larger than the bound is not kept at all.
 */
public final class SnapshotFileCache {
    /** A change this recent (or in the future: a clock set back) may hide a second change in the same tick. */
    static final long RACY_NANOS = TimeUnit.SECONDS.toNanos(2);

    private final int maxEntries;
    private final long racyNanos;
    private final LinkedHashMap<Path, Map<Path, Entry>> folders = new LinkedHashMap<>(16, 0.75f, true);
    private int entries;
    private final AtomicLong hits = new AtomicLong();
    private final AtomicLong misses = new AtomicLong();

    public SnapshotFileCache(int maxEntries) {
        this(maxEntries, RACY_NANOS);
    }

    /** With another racy window (tests: 0 keeps even a file written just now). */
    SnapshotFileCache(int maxEntries, long racyNanos) {
        if (maxEntries < 1) {
            throw new IllegalArgumentException("maxEntries " + maxEntries);
        }
        this.maxEntries = maxEntries;
        this.racyNanos = racyNanos;
    }

    /** What identifies one version of a file. */
    record Stamp(Object inode, long size, FileTime ctime, FileTime mtime) {
        boolean racy(long nowNanos, long window) {
            long changed = Math.max(ctime.to(TimeUnit.NANOSECONDS), mtime.to(TimeUnit.NANOSECONDS));
            return nowNanos - changed < window;
        }
    }

    private record Entry(Stamp stamp, SnapshotDef def) {
    }

    /** Files read from the cache since it was made. */
    public long hits() {
        return hits.get();
    }

    /** Files parsed since it was made (a miss, a change, a damaged or racy file). */
    public long misses() {
        return misses.get();
    }

    /** Entries kept now, in all folders. */
    public synchronized int size() {
        return entries;
    }

    /** Starts one full read of {@code folder}'s snapshot files. */
    Listing listing(Path folder) {
        Map<Path, Entry> before;
        synchronized (this) {
            before = folders.get(folder);
        }
        return new Listing(folder, before == null ? Map.of() : before);
    }

    private synchronized void replace(Path folder, Map<Path, Entry> seen) {
        Map<Path, Entry> old = folders.remove(folder);
        if (old != null) {
            entries -= old.size();
        }
        if (seen.isEmpty() || seen.size() > maxEntries) {
            return;
        }
        folders.put(folder, seen);
        entries += seen.size();
        var it = folders.entrySet().iterator();
        while (entries > maxEntries && it.hasNext()) {
            var eldest = it.next();
            if (eldest.getKey().equals(folder)) {
                continue;
            }
            entries -= eldest.getValue().size();
            it.remove();
        }
    }

    /** The file's stamp, or null when it must not be kept (not a regular file, no UNIX attributes). */
    static Stamp stamp(Path file) {
        try {
            Map<String, Object> a = java.nio.file.Files.readAttributes(file,
                    "unix:ino,dev,size,ctime,lastModifiedTime,isRegularFile", LinkOption.NOFOLLOW_LINKS);
            if (!Boolean.TRUE.equals(a.get("isRegularFile"))) {
                return null;
            }
            return new Stamp(a.get("dev") + ":" + a.get("ino"), (Long) a.get("size"), (FileTime) a.get("ctime"),
                    (FileTime) a.get("lastModifiedTime"));
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return null; // gone, or no UNIX view: read it as without a cache
        }
    }

    /** One full read of a folder: {@link #lookup} each file, {@link #parsed} what was read, then {@link #done}. */
    final class Listing {
        private final Path folder;
        private final Map<Path, Entry> before;
        private final Map<Path, Entry> seen = new HashMap<>();
        private Path pendingFile;
        private Stamp pendingStamp;
        private long pendingAt;

        private Listing(Path folder, Map<Path, Entry> before) {
            this.folder = folder;
            this.before = before;
        }

        /** The file's definition if it is unchanged since it was kept, else null (then read and parse it). */
        SnapshotDef lookup(Path file) {
            long at = nowNanos(); // before the stat: a change after it must have a later ctime
            Stamp s = stamp(file);
            Entry e = before.get(file);
            if (s != null && e != null && e.stamp().equals(s)) {
                seen.put(file, e);
                hits.incrementAndGet();
                return e.def();
            }
            misses.incrementAndGet();
            pendingFile = file;
            pendingStamp = s;
            pendingAt = at;
            return null;
        }

        /** {@code def} was parsed from {@code file} after its {@link #lookup}. */
        void parsed(Path file, SnapshotDef def) {
            if (file.equals(pendingFile) && pendingStamp != null && !pendingStamp.racy(pendingAt, racyNanos)) {
                seen.put(file, new Entry(pendingStamp, def));
            }
            pendingFile = null;
            pendingStamp = null;
        }

        /** The folder was read to the end: its entries become the files seen (deleted files go). */
        void done() {
            replace(folder, Map.copyOf(seen));
        }
    }

    private static long nowNanos() {
        java.time.Instant now = java.time.Instant.now();
        return TimeUnit.SECONDS.toNanos(now.getEpochSecond()) + now.getNano();
    }
}
