package org.vmsnap.qcow2;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.vmsnap.qcow2.io.WritebackFile;

/**
 * Keeps the kernel writing image files' dirty pages back while QEMU or a data verb writes a lot
 * into them and will flush them at the end, so that the flush waits only for what was written
 * last.
 *
 * <p>Why: QEMU's {@code snapshot-save} writes the guest's RAM into the first disk's image (the
 * page cache takes it at memory speed: ~120 ms for 256 MiB here) and then flushes the image,
 * with the guest paused throughout. The kernel does not begin writing back a few hundred MiB
 * by itself (its background threshold is a share of all memory), so the flush wrote all of it
 * and took ~230 ms of a ~350 ms pause. Started every few milliseconds from the first write on,
 * the writeback runs beside QEMU's writes and the pause was 20-30% shorter (DESIGN-CHANGES.md,
 * writeback). {@code sync_file_range(SYNC_FILE_RANGE_WRITE)} only starts I/O that the flush would
 * do anyway: it makes nothing durable and changes no byte, so QEMU's own flush still decides.
 *
 * <p>The same holds for vmsnap's own data verbs in their default (durable) mode: a commit,
 * convert or safe rebase writes hundreds of MiB through the page cache and syncs the file before
 * it ends; with the writeback started beside the copy, a 64-deep chain's commit took 0.63-0.88 s
 * instead of 0.81-1.02 s ({@link #forCacheMode}).
 *
 * <p>Best effort: a file that cannot be opened, a file system without the call, or a platform
 * without native access make this do less or nothing, never fail the operation.
 */
public final class ImageWriteback implements AutoCloseable {
    /** How often the writeback is started again: pages dirtied since the last start follow. */
    public static final Duration PERIOD = Duration.ofMillis(10);

    private final List<WritebackFile> files;
    private final CountDownLatch stop = new CountDownLatch(1);
    private final Thread thread;

    private ImageWriteback(List<WritebackFile> files, Duration period) {
        this.files = files;
        this.thread = files.isEmpty() ? null : Thread.ofPlatform().daemon().name("vmsnap-writeback")
                .start(() -> loop(period));
    }

    /** Starts the writeback of {@code images} now and every {@link #PERIOD} until closed. */
    public static ImageWriteback start(List<Path> images) {
        return start(images, PERIOD);
    }

    /**
     * For a file a data verb writes with {@code cache}: started when the verb will sync the file
     * at its end (writeback, none), so that sync finds most pages written; nothing for unsafe (no
     * sync to shorten: qemu-img leaves the pages to the kernel too) nor for the modes that sync
     * every write (nothing stays dirty).
     */
    public static ImageWriteback forCacheMode(CacheMode cache, Path file) {
        return start(cache.flushes() && !cache.syncsEveryWrite() ? List.of(file) : List.of(), PERIOD);
    }

    static ImageWriteback start(List<Path> images, Duration period) {
        List<WritebackFile> open = new ArrayList<>();
        if (WritebackFile.isAvailable()) {
            for (Path p : images) {
                try {
                    open.add(WritebackFile.open(p));
                } catch (IOException e) {
                    // Only speed is lost: the final flush writes this file's pages itself.
                }
            }
        }
        return new ImageWriteback(open, period);
    }

    /**
     * Drops {@code file}'s pages from the page cache once it is written and synced (virsh's
     * {@code --bypass-cache}: a memory file, the guest's RAM, is not kept in the cache after the
     * command). Best effort: returns false when it could not (no such call here, file gone).
     */
    public static boolean dropCachedPages(Path file) {
        if (!WritebackFile.isAvailable()) {
            return false;
        }
        try (WritebackFile f = WritebackFile.open(file)) {
            f.dropCleanPages();
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** How many files are being written back (0: nothing to do here, or not possible). */
    public int files() {
        return files.size();
    }

    private void loop(Duration period) {
        List<WritebackFile> live = new ArrayList<>(files);
        try {
            do {
                live.removeIf(f -> {
                    try {
                        f.start();
                        return false;
                    } catch (IOException e) {
                        return true; // (EINVAL on a file system without it): not again
                    }
                });
            } while (!live.isEmpty() && !stop.await(period.toNanos(), TimeUnit.NANOSECONDS));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops starting writebacks (what was started goes on in the kernel) and closes the files. */
    @Override
    public void close() {
        stop.countDown();
        if (thread != null) {
            boolean interrupted = false;
            while (true) {
                try {
                    thread.join();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
        for (WritebackFile f : files) {
            try {
                f.close();
            } catch (IOException e) {
                // A read-only descriptor: nothing of the file's depends on its close.
            }
        }
    }
}
