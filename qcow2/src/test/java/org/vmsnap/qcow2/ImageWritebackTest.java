package org.vmsnap.qcow2;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ImageWriteback starts the kernel's writeback of the files' dirty pages and changes nothing.
 * A file's dirty pages are counted with cachestat(2) (Linux 6.5 and later). Left alone, the
 * kernel keeps a file's pages dirty for ~30 s (dirty_expire_centisecs) unless far more is dirty
 * than a test writes: a file that turns clean within seconds was written back by ImageWriteback.
 */
class ImageWritebackTest {
    @TempDir
    Path dir;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle SYSCALL = LINKER.downcallHandle(
            LINKER.defaultLookup().find("syscall").orElseThrow(),
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG),
            Linker.Option.firstVariadicArg(1));
    private static final MethodHandle OPEN = LINKER.downcallHandle(LINKER.defaultLookup().find("open").orElseThrow(),
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle CLOSE = LINKER.downcallHandle(LINKER.defaultLookup().find("close").orElseThrow(),
            FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    /** cachestat's number, the same in every Linux table since 6.5. */
    private static final long CACHESTAT = 451;

    /** Pages of {@code file} dirty in the page cache now, or -1 when there is no cachestat(2). */
    private static long dirtyPages(Path file) throws Throwable {
        return cachestat(file, 8);
    }

    /** Pages of {@code file} in the page cache now, or -1 when there is no cachestat(2). */
    private static long cachedPages(Path file) throws Throwable {
        return cachestat(file, 0);
    }

    /** One field of cachestat(2)'s answer for the whole file (0: nr_cache, 8: nr_dirty), or -1. */
    private static long cachestat(Path file, long field) throws Throwable {
        try (Arena arena = Arena.ofConfined()) {
            int fd = (int) OPEN.invokeExact(arena.allocateFrom(file.toString()), 0);
            assertThat(fd).as("open " + file).isNotNegative();
            try {
                MemorySegment range = arena.allocate(16, 8); // off 0, len 0: the whole file
                MemorySegment stat = arena.allocate(40, 8);  // nr_cache, nr_dirty, nr_writeback, ...
                long rc = (long) SYSCALL.invokeExact(CACHESTAT, (long) fd, range.address(), stat.address(), 0L);
                return rc == 0 ? stat.get(JAVA_LONG, field) : -1;
            } finally {
                int closed = (int) CLOSE.invokeExact(fd);
                assertThat(closed).isZero();
            }
        }
    }

    /** A file of {@code mib} MiB of random bytes written through the page cache, not synced. */
    private Path dirtyFile(String name, int mib, long seed) throws Exception {
        Path f = dir.resolve(name);
        byte[] chunk = new byte[1 << 20];
        Random r = new Random(seed);
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            for (int i = 0; i < mib; i++) {
                r.nextBytes(chunk);
                ByteBuffer b = ByteBuffer.wrap(chunk);
                while (b.hasRemaining()) {
                    ch.write(b);
                }
            }
        }
        return f;
    }

    private static long waitClean(Path f, long millis) throws Throwable {
        long end = System.nanoTime() + millis * 1_000_000L;
        long dirty = dirtyPages(f);
        while (dirty > 0 && System.nanoTime() < end) {
            Thread.sleep(5);
            dirty = dirtyPages(f);
        }
        return dirty;
    }

    /**
     * A file of {@code mib} MiB whose pages are dirty when this returns. Something else (a sync by
     * another process) may clean a file before the test looks: it is then written again, twice at
     * most, so that the test never passes on a file that was clean from the start.
     */
    private Path stillDirtyFile(String name, int mib, long seed) throws Throwable {
        Path f = dirtyFile(name, mib, seed);
        for (int again = 0; again < 2 && dirtyPages(f) == 0; again++) {
            Files.delete(f);
            f = dirtyFile(name, mib, seed);
        }
        long dirty = dirtyPages(f);
        assertThat(dirty).as("dirty pages of " + name + " (-1: no cachestat(2), which needs Linux 6.5)").isPositive();
        return f;
    }

    @Test
    void writesBackWhatIsDirtyAndWhatIsDirtiedMeanwhile() throws Throwable {
        Path a = stillDirtyFile("a.img", 32, 1);
        Path b = stillDirtyFile("b.img", 16, 2);
        byte[] before1 = Files.readAllBytes(a);
        try (ImageWriteback w = ImageWriteback.start(List.of(a, b))) {
            assertThat(w.files()).isEqualTo(2);
            assertThat(waitClean(a, 5000)).as("dirty pages of a after 5 s").isZero();
            assertThat(waitClean(b, 5000)).as("dirty pages of b after 5 s").isZero();
            // Pages dirtied while it runs follow at its next round (as QEMU's writes do).
            try (FileChannel ch = FileChannel.open(a, StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.wrap(new byte[8 << 20]), 4 << 20);
            }
            assertThat(waitClean(a, 5000)).as("pages dirtied meanwhile, after 5 s").isZero();
        }
        // It wrote back what was written, nothing of its own.
        byte[] expected = before1.clone();
        java.util.Arrays.fill(expected, 4 << 20, 12 << 20, (byte) 0);
        assertThat(Files.readAllBytes(a)).isEqualTo(expected);
    }

    @Test
    void leavesAFileItDidNotTouchUnchanged() throws Throwable {
        Path a = dirtyFile("a.img", 4, 3);
        byte[] bytes = Files.readAllBytes(a);
        FileTime mtime = Files.getLastModifiedTime(a);
        try (ImageWriteback w = ImageWriteback.start(List.of(a), java.time.Duration.ofMillis(1))) {
            Thread.sleep(50);
        }
        assertThat(Files.readAllBytes(a)).isEqualTo(bytes);
        assertThat(Files.getLastModifiedTime(a)).isEqualTo(mtime);
        assertThat(Files.size(a)).isEqualTo(4L << 20);
    }

    @Test
    void aMissingFileOrNoFileIsNoError() throws Exception {
        Path present = dirtyFile("p.img", 1, 4);
        try (ImageWriteback w = ImageWriteback.start(List.of(dir.resolve("missing.img"), present))) {
            assertThat(w.files()).isEqualTo(1);
        }
        try (ImageWriteback w = ImageWriteback.start(List.of())) {
            assertThat(w.files()).isZero();
        }
        // Not a file one can write back (a FIFO: sync_file_range says ESPIPE): dropped, no error.
        Path fifo = dir.resolve("fifo");
        assertThat(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor()).isZero();
        try (ImageWriteback w = ImageWriteback.start(List.of(fifo))) {
            Thread.sleep(30);
        }
        assertThat(Files.exists(dir.resolve("missing.img"))).isFalse();
    }

    @Test
    void closeWaitsForItsThreadAndClosesTheFiles() throws Exception {
        Path a = dirtyFile("c.img", 1, 5);
        long fdsBefore = openDescriptors();
        ImageWriteback w = ImageWriteback.start(List.of(a));
        w.close();
        w.close(); // twice is harmless
        assertThat(openDescriptors()).isEqualTo(fdsBefore);
        assertThat(Thread.getAllStackTraces().keySet()).noneMatch(t -> t.getName().equals("vmsnap-writeback"));
    }

    @Test
    void onlyTheCacheModesThatSyncAtTheEndGetIt() throws Exception {
        Path a = dirtyFile("m.img", 1, 6);
        for (CacheMode m : CacheMode.values()) {
            try (ImageWriteback w = ImageWriteback.forCacheMode(m, a)) {
                // unsafe: no sync to shorten; writethrough, directsync: nothing stays dirty.
                int expected = m == CacheMode.WRITEBACK || m == CacheMode.NONE ? 1 : 0;
                assertThat(w.files()).as(m.qemuName()).isEqualTo(expected);
            }
        }
    }

    @Test
    void dropCachedPagesLeavesNothingOfASyncedFileInTheCache() throws Throwable {
        Path a = dirtyFile("d.img", 8, 7);
        byte[] bytes = Files.readAllBytes(a);
        try (FileChannel ch = FileChannel.open(a, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
        assertThat(cachedPages(a)).as("cached pages of a file just written and read (-1: no cachestat(2), which"
                + " needs Linux 6.5)").isPositive();
        assertThat(ImageWriteback.dropCachedPages(a)).isTrue();
        assertThat(cachedPages(a)).isZero();
        assertThat(Files.readAllBytes(a)).as("read again from the disk").isEqualTo(bytes);
        assertThat(ImageWriteback.dropCachedPages(dir.resolve("gone.img"))).isFalse();
    }

    private static long openDescriptors() throws Exception {
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }
}
