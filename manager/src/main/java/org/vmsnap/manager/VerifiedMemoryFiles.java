package org.vmsnap.manager;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

import org.vmsnap.qmp.MemoryFile;

/**
 * vmsnap's memory files this JVM verified whole (every frame's checksum), each with what any change
 * of the file changes: device, inode, size, modification and change times (to the nanosecond; the
 * change time cannot be set back). A revert checks its checkpoint's file when it plans and again
 * right before QEMU reads it; the second check, in the same command, finds the file as the first
 * left it and reads nothing. A step run again after a crash runs in a new JVM and checks the file
 * whole.
 *
 * <p>A file changed less than {@value #SETTLE_MILLIS} ms before it was checked is not kept: where
 * file times advance only at each clock tick (coarse timestamps), a second change in the same tick
 * would leave the times as they were; git treats a racily clean index entry the same way.
 */
final class VerifiedMemoryFiles {
    /** How old a file's last change must be for its check to be kept. */
    static final long SETTLE_MILLIS = 100;
    private static final int MAX = 8;
    private static final Map<Path, Entry> BY_FILE = new LinkedHashMap<>();

    private record Entry(Map<String, Object> stamp, MemoryFile.Verified verified) {
    }

    private VerifiedMemoryFiles() {
    }

    /** {@link MemoryFile#verify} of {@code file} (absolute, normalized), or its earlier result while the file is unchanged. */
    static MemoryFile.Verified verify(Path file) throws IOException {
        Map<String, Object> before = stamp(file);
        synchronized (BY_FILE) {
            Entry e = BY_FILE.get(file);
            if (e != null && e.stamp().equals(before)) {
                return e.verified();
            }
        }
        MemoryFile.Verified v = MemoryFile.verify(file);
        // Kept only when nothing changed while it was read (a file being written is checked again)
        // and its last change was not within the last clock ticks.
        java.time.Instant settled = java.time.Instant.now().minusMillis(SETTLE_MILLIS);
        if (((java.time.Instant) before.get("ctime")).isBefore(settled) && stamp(file).equals(before)) {
            synchronized (BY_FILE) {
                BY_FILE.remove(file);
                if (BY_FILE.size() >= MAX) {
                    BY_FILE.remove(BY_FILE.keySet().iterator().next());
                }
                BY_FILE.put(file, new Entry(before, v));
            }
        }
        return v;
    }

    private static Map<String, Object> stamp(Path file) throws IOException {
        Map<String, Object> a = new HashMap<>(Files.readAttributes(file, "unix:dev,ino,size,lastModifiedTime,ctime",
                LinkOption.NOFOLLOW_LINKS));
        a.replaceAll((k, v) -> v instanceof FileTime t ? t.toInstant() : v); // compared to the nanosecond
        return a;
    }
}
