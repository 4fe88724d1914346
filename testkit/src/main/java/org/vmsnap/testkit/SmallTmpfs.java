package org.vmsnap.testkit;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A small tmpfs on which a disk can be made full on purpose (the tests run as root): a filler
 * file takes all its space but {@code free} bytes, and {@link #sweep} grows {@code free} step
 * by step from none until the operation under test succeeds, so each of its writes is in turn
 * the one that finds the disk full (ENOSPC). tmpfs runs out of space in whole pages (4 KiB).
 */
public final class SmallTmpfs implements AutoCloseable {
    private final Path mount;
    private final Path filler;

    private SmallTmpfs(Path mount) {
        this.mount = mount;
        this.filler = mount.resolve(".filler");
    }

    /** Mounts a tmpfs of {@code size} (mount's syntax, "24m") on a new folder {@code dir}. */
    public static SmallTmpfs mount(Path dir, String size) throws IOException, InterruptedException {
        Files.createDirectories(dir);
        Process p = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=" + size + ",mode=0700", "tmpfs",
                dir.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new AssertionError("mount a " + size + " tmpfs on " + dir + " (the tests run as root): " + out);
        }
        return new SmallTmpfs(dir);
    }

    public Path root() {
        return mount;
    }

    /** Fills the tmpfs but {@code free} bytes (rounded by tmpfs to its pages). */
    public void fill(long free) throws IOException {
        release();
        long size = Math.max(0, Files.getFileStore(mount).getUsableSpace() - free);
        byte[] chunk = new byte[1 << 20];
        Arrays.fill(chunk, (byte) 0x5a);
        try (RandomAccessFile raf = new RandomAccessFile(filler.toFile(), "rw")) {
            long left = size;
            while (left > 0) {
                int n = (int) Math.min(chunk.length, left);
                try {
                    raf.write(chunk, 0, n);
                } catch (IOException full) {
                    break; // rounding of the last page: as full as it gets
                }
                left -= n;
            }
        }
    }

    /** Gives the space back (removes the filler; nothing when there is none). */
    public void release() throws IOException {
        Files.deleteIfExists(filler);
    }

    /** One try of the operation under test, with the filler in place. */
    public interface Trial {
        /**
         * Runs the operation with {@code free} bytes left and checks what must hold; may call
         * {@link #release} to check what must hold once space is back.
         *
         * @return true when the operation succeeded (the sweep ends)
         */
        boolean run(long free) throws Exception;
    }

    /** What a sweep found: how many tries failed on a full disk, and the free space of the first success. */
    public record Outcome(int failures, long freeAtSuccess) {
    }

    /**
     * Runs {@code trial} with 0, step, 2*step ... bytes free until it succeeds; fails when it
     * never failed (the sweep proved nothing) or still fails past {@code maxFree}.
     *
     * @param prepare builds the trial's files afresh, with space plentiful, before each try
     */
    public Outcome sweep(String what, long step, long maxFree, Prepare prepare, Trial trial) throws Exception {
        int failures = 0;
        for (long free = 0; free <= maxFree; free += step) {
            release();
            prepare.run();
            fill(free);
            boolean ok;
            try {
                ok = trial.run(free);
            } finally {
                release();
            }
            if (ok) {
                if (failures == 0) {
                    throw new AssertionError(what + ": succeeded with " + free + " bytes free: never met a full disk");
                }
                return new Outcome(failures, free);
            }
            failures++;
        }
        throw new AssertionError(what + ": still failing with " + maxFree + " bytes free");
    }

    /** Makes the files of one try (with the filler removed). */
    public interface Prepare {
        void run() throws Exception;
    }

    /** Removes {@code root} and everything under it (test files only). */
    public static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    /** Unmounts (lazily, so a file still open does not keep the test from ending). */
    @Override
    public void close() throws IOException, InterruptedException {
        new ProcessBuilder("umount", "-l", mount.toString()).inheritIO().start().waitFor(30, TimeUnit.SECONDS);
    }
}
