package org.vmsnap.qcow2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.qcow2.engine.ImageChecker;
import org.vmsnap.qcow2.format.Header;
import org.vmsnap.qcow2.io.MemoryBlockStore;
import org.vmsnap.testkit.QemuImg;
import org.vmsnap.testkit.QemuIo;
import org.vmsnap.testkit.SeededRun;

/**
 * Seeded random damage to the metadata of small valid images that QEMU made (header, L1 and
 * L2 tables, refcount table and blocks, snapshot table and snapshot L1 tables), then what a
 * user does with an image: open read-only and read, check, open read-write and write, zero,
 * discard, flush, check again. Whatever the damage, only {@link IOException}s may escape
 * (the engine's typed errors); no unchecked exception, no {@link Error}, no hang, no huge
 * allocation; and read-only work never changes the bytes.
 *
 * <p>Replay one seed with {@code -Dvmsnap.seed=N}; each failure names the seed and the
 * mutations (the operation log).
 */
class HostileMutationTest {

    /** Damaged copies per seed: with the default six seeds, about ten seconds on 2 cores (1500 damaged images). */
    private static final int ITERATIONS = Integer.getInteger("vmsnap.hostile.iterations", 250);
    /** One operation on an image of at most a few MiB: slower than this is a hang. */
    private static final Duration OP_TIMEOUT = Duration.ofSeconds(10);
    /** Heap one operation may allocate: the images are small; a claimed size must not be believed. */
    private static final long MAX_ALLOCATION_BYTES = 128L << 20;
    /** Guest bytes one read pass looks at, at most: a mutated size field may claim exabytes. */
    private static final long MAX_READ_BYTES = 4L << 20;

    /** How much the writes of one iteration may grow the file: new data, L2 and refcount clusters. */
    private static final long MAX_GROWTH_BYTES = 16L << 20;

    /** Values that sit on the edges of the checks the engine should make. */
    private static final long[] INTERESTING = {
        0, 1, 0x1ff, 0x200, 0x1000, 0x10000, 1L << 30, 1L << 40, 1L << 55, (1L << 56) - 512, 1L << 62,
        1L << 63, (1L << 63) | 0x1000, (1L << 62) | 0x1000, -1L, -512L, Long.MAX_VALUE, 0x7fffffffL,
        0xffffffffL, 0x100000000L, 0x80000000L
    };

    @TempDir
    static Path dir;

    /** A valid image: its file bytes, its metadata regions, and its raw backing file if any. */
    record Source(String name, byte[] bytes, List<Region> metadata, byte[] backing) {
    }

    /** One metadata structure in the file: [start, end). */
    record Region(String kind, long start, long end) {
    }

    static final List<Source> SOURCES = new ArrayList<>();

    @BeforeAll
    static void makeImages() throws IOException {
        // 4 KiB clusters, 16-bit refcounts, data, zeros, a compressed cluster, an internal
        // snapshot (shared L2 tables and refcounts of 2) and writes after it (COW).
        Path snap = dir.resolve("snap.qcow2");
        QemuImg.create(snap, "qcow2", 2L << 20, "cluster_size=4096", "compat=1.1");
        QemuIo.run(snap, "qcow2", "write -P 0x11 0 12k", "write -c -P 0x22 64k 4k", "write -z 128k 8k",
                "write -P 0x33 1M 4k", "write -P 0x34 1536k 64k");
        QemuImg.snapshotCreate(snap, "s1");
        QemuIo.run(snap, "qcow2", "write -P 0x44 4k 4k", "discard 1M 4k", "write -c -P 0x45 72k 4k");
        add("snap", snap, null);

        // 512-byte clusters with 64-bit refcounts: many small L2 tables and refcount blocks.
        Path small = dir.resolve("small.qcow2");
        QemuImg.create(small, "qcow2", 256L << 10, "cluster_size=512", "refcount_bits=64", "compat=1.1");
        QemuIo.run(small, "qcow2", "write -P 0x55 0 40k", "write -c -P 0x66 128k 512", "write -z 192k 4k",
                "write -P 0x67 250k 6k");
        add("small", small, null);

        // A version 2 overlay of a raw file: reads fall through to the backing file.
        Path base = dir.resolve("base.raw");
        QemuImg.create(base, "raw", 1L << 20);
        QemuIo.run(base, "raw", "write -P 0x77 0 1M");
        Path overlay = dir.resolve("overlay.qcow2");
        QemuImg.createOverlay(overlay, Path.of("base.raw"), "raw", "cluster_size=4096", "compat=0.10");
        QemuIo.run(overlay, "qcow2", "write -P 0x78 4k 8k", "write -z 64k 4k", "write -P 0x79 900k 20k");
        add("overlay", overlay, Files.readAllBytes(base));

        // Extended L2 entries (16 KiB clusters, 512-byte subclusters) over the raw file:
        // subcluster data, zeros and holes, a compressed cluster, a snapshot sharing tables.
        Path ext = dir.resolve("ext.qcow2");
        QemuImg.createOverlay(ext, Path.of("base.raw"), "raw", "cluster_size=16k", "extended_l2=on");
        QemuIo.run(ext, "qcow2", "write -P 0x81 1k 2k", "write -z 4k 1536", "write -c -P 0x82 32k 16k",
                "write -z -u 64k 16k", "write -P 0x83 100k 40k", "discard 112k 16k");
        QemuImg.snapshotCreate(ext, "s1");
        QemuIo.run(ext, "qcow2", "write -P 0x84 1536 512", "write -P 0x85 900k 1k");
        add("ext", ext, Files.readAllBytes(base));
    }

    private static void add(String name, Path file, byte[] backing) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        SOURCES.add(new Source(name, bytes, metadataRegions(file, bytes), backing));
    }

    @Test
    void sourcesAreCleanAndHaveEveryKindOfMetadata() throws IOException {
        for (Source s : SOURCES) {
            CheckResult r = ImageChecker.check(store(s, s.bytes()), RepairMode.NONE);
            assertThat(r.exitCode()).as("%s checks clean: %s", s.name(), r.messages()).isZero();
            List<String> kinds = s.metadata().stream().map(Region::kind).distinct().toList();
            assertThat(kinds).as(s.name()).contains("header", "L1 table", "L2 table", "refcount table",
                    "refcount block");
        }
        assertThat(SOURCES.getFirst().metadata()).extracting(Region::kind)
                .contains("snapshot table", "snapshot L1 table");
    }

    @Test
    void damagedMetadataGivesTypedErrorsOnly() {
        SeededRun.run("hostile metadata", run -> {
            Random r = run.random();
            for (int i = 0; i < ITERATIONS; i++) {
                Source source = SOURCES.get(r.nextInt(SOURCES.size()));
                byte[] damaged = source.bytes().clone();
                int mutations = 1 + r.nextInt(3);
                StringBuilder what = new StringBuilder();
                for (int m = 0; m < mutations; m++) {
                    what.append(mutate(r, source, damaged)).append("; ");
                }
                run.log("#%d %s: %s", i, source.name(), what);
                exercise(run, r, source, damaged);
            }
        });
    }

    // ---- single damages the random search found, kept as plain regression tests ------------

    @Test
    void backingFileOffsetNearLongMaxIsACorruptHeader() throws IOException {
        Source overlay = source("overlay");
        byte[] damaged = overlay.bytes().clone();
        ByteBuffer.wrap(damaged).putLong(8, Long.MAX_VALUE); // backing_file_offset
        assertTypedFailure(() -> Qcow2Image.openStore(store(overlay, damaged), true, backing(overlay)).close());
        assertTypedFailure(() -> ImageChecker.check(store(overlay, damaged), RepairMode.NONE));
    }

    @Test
    void backingFileNameWithANulByteIsReportedNotThrownAsInvalidPath() throws IOException {
        Source overlay = source("overlay");
        byte[] damaged = overlay.bytes().clone();
        long nameOffset = ByteBuffer.wrap(damaged).getLong(8);
        damaged[(int) nameOffset + 2] = 0; // "base.raw" -> "ba\0e.raw"
        try (Qcow2Image image = Qcow2Image.openStore(store(overlay, damaged), true, backing(overlay))) {
            // Showing the name as stored is as good as refusing it; an unchecked
            // InvalidPathException from resolving it as a path is neither.
            try {
                assertThat(image.info().backingFilename()).contains("ba");
            } catch (IOException refused) {
                assertThat(refused).isInstanceOf(ImageException.class);
            }
        }
    }

    @Test
    void refcountTableEntryWithReservedBitsIsCorruptionNotANegativeRead() throws IOException {
        Source small = source("small");
        for (long bits : new long[] {1L << 63, 1L}) {
            byte[] damaged = small.bytes().clone();
            ByteBuffer b = ByteBuffer.wrap(damaged);
            long table = b.getLong(48); // refcount_table_offset
            b.putLong((int) table, b.getLong((int) table) | bits);
            assertTypedFailure(() -> {
                try (Qcow2Image image = Qcow2Image.openStore(store(small, damaged), false, null)) {
                    image.write(100L << 10, ByteBuffer.wrap(new byte[4096])); // allocates
                    image.flush();
                }
            });
        }
    }

    @Test
    void dataClusterPastTheEndOfTheFileIsCorruptionNotAFileOfATerabyte() throws IOException {
        Source small = source("small");
        byte[] damaged = small.bytes().clone();
        ByteBuffer b = ByteBuffer.wrap(damaged);
        long l2 = b.getLong((int) b.getLong(40)) & 0x00ff_ffff_ffff_fe00L; // L1[0] -> L2 table of guest 0
        long entry = b.getLong((int) l2);                                   // guest 0: data (0x55), COPIED
        b.putLong((int) l2, (entry & ~0x00ff_ffff_ffff_fe00L) | (1L << 40));
        MemoryBlockStore ro = store(small, damaged);
        assertTypedFailure(() -> {
            try (Qcow2Image image = Qcow2Image.openStore(ro, true, null)) {
                image.read(0, ByteBuffer.allocate(512));
            }
        });
        MemoryBlockStore rw = store(small, damaged);
        assertTypedFailure(() -> {
            try (Qcow2Image image = Qcow2Image.openStore(rw, false, null)) {
                image.write(0, ByteBuffer.wrap(new byte[512]));
                image.flush();
            }
        });
        assertThat(rw.size()).as("file size after refusing the write").isLessThanOrEqualTo(damaged.length);
    }

    private static Source source(String name) {
        return SOURCES.stream().filter(s -> s.name().equals(name)).findFirst().orElseThrow();
    }

    /** The operation must fail with the engine's typed error (naming the file), nothing else. */
    private static void assertTypedFailure(Operation op) {
        Throwable thrown = null;
        try {
            op.run();
        } catch (Throwable t) {
            thrown = t;
        }
        assertThat(thrown).as("the damage must be refused").isNotNull();
        if (!(thrown instanceof ImageException)) {
            throw new AssertionError("expected an ImageException, got " + thrown, thrown);
        }
    }

    /** Damages one place in a metadata region; returns what it did. */
    private static String mutate(Random r, Source source, byte[] bytes) {
        Region region = source.metadata().get(r.nextInt(source.metadata().size()));
        long length = region.end() - region.start();
        int pos = (int) (region.start() + r.nextLong(length));
        switch (r.nextInt(4)) {
            case 0 -> {
                int bit = r.nextInt(8);
                bytes[pos] ^= (byte) (1 << bit);
                return String.format("%s: flip bit %d of [0x%x]", region.kind(), bit, pos);
            }
            case 1 -> {
                byte b = (byte) r.nextInt(256);
                bytes[pos] = b;
                return String.format("%s: [0x%x]=0x%02x", region.kind(), pos, b & 0xff);
            }
            default -> {
                int word = Math.min(pos & ~7, bytes.length - 8);
                long value = r.nextBoolean() ? INTERESTING[r.nextInt(INTERESTING.length)] : r.nextLong();
                ByteBuffer.wrap(bytes).putLong(word, value);
                return String.format("%s: word [0x%x]=0x%x", region.kind(), word, value);
            }
        }
    }

    /** Open/read, check, open/write/zero/discard/flush, check: typed errors only. */
    private static void exercise(SeededRun.Context run, Random r, Source source, byte[] damaged) throws IOException {
        // Read-only open and reads: must not change a byte.
        MemoryBlockStore ro = store(source, damaged);
        long readSeed = r.nextLong();
        bounded(run, "read-only open and read", () -> {
            try (Qcow2Image image = Qcow2Image.openStore(ro, true, backing(source))) {
                readSome(image, new Random(readSeed));
                if (image.size() > 0) {
                    image.blockStatus(0, image.size());
                }
                image.info();
            }
        });
        assertThat(Arrays.equals(ro.toByteArray(), damaged)).as("read-only open changed the image").isTrue();

        MemoryBlockStore checked = store(source, damaged);
        bounded(run, "check -r none", () -> ImageChecker.check(checked, RepairMode.NONE));
        assertThat(Arrays.equals(checked.toByteArray(), damaged)).as("check -r none changed the image").isTrue();

        MemoryBlockStore rw = store(source, damaged);
        long writeSeed = r.nextLong();
        bounded(run, "read-write open, write, zero, discard, flush", () -> {
            try (Qcow2Image image = Qcow2Image.openStore(rw, false, backing(source))) {
                Random w = new Random(writeSeed);
                long span = Math.min(image.size(), MAX_READ_BYTES);
                int cluster = image.clusterSize();
                for (int k = 0; k < 3 && span > 0; k++) {
                    long off = w.nextLong(span);
                    int len = (int) Math.min(span - off, 1 + w.nextInt(2 * cluster));
                    byte[] data = new byte[len];
                    w.nextBytes(data);
                    image.write(off, ByteBuffer.wrap(data));
                }
                if (span > 0) {
                    long off = w.nextLong(span);
                    image.writeZeroes(off, Math.min(span - off, 1 + w.nextInt(4 * cluster)));
                    off = w.nextLong(span);
                    image.discard(off, Math.min(span - off, 1 + w.nextInt(4 * cluster)));
                }
                image.flush();
                readSome(image, w);
            }
        });
        // A few writes of a few KiB each may add a few clusters and tables, never move the end
        // of the file to wherever a damaged entry points.
        assertThat(rw.size()).as("file size after the writes").isLessThan(damaged.length + MAX_GROWTH_BYTES);
        // Whatever the writes left (or the corrupt bit they set): check it again.
        bounded(run, "check after writing", () -> ImageChecker.check(rw, RepairMode.NONE));
    }

    /** The first guest bytes and a few random ranges, at most {@link #MAX_READ_BYTES} in all. */
    private static void readSome(Qcow2Image image, Random r) throws IOException {
        long size = image.size();
        ByteBuffer buffer = ByteBuffer.allocate(64 * 1024);
        long budget = MAX_READ_BYTES;
        for (long off = 0; off < size && budget > MAX_READ_BYTES / 2; off += buffer.capacity()) {
            buffer.clear().limit((int) Math.min(buffer.capacity(), size - off));
            budget -= buffer.limit();
            image.read(off, buffer);
        }
        for (int k = 0; k < 16 && size > 0; k++) {
            long off = r.nextLong(size);
            buffer.clear().limit((int) Math.min(buffer.capacity(), size - off));
            image.read(off, buffer);
        }
    }

    @FunctionalInterface
    interface Operation {
        void run() throws Exception;
    }

    /**
     * Runs one operation within {@link #OP_TIMEOUT}; an IOException is an accepted outcome
     * (the engine refused the damage), anything else fails with the seed and the mutations.
     */
    private static void bounded(SeededRun.Context run, String what, Operation op) {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        Throwable failure = assertTimeoutPreemptively(OP_TIMEOUT, () -> {
            long thread = Thread.currentThread().threadId();
            long before = threads.getThreadAllocatedBytes(thread);
            Throwable t = null;
            try {
                op.run();
            } catch (Throwable e) {
                t = e;
            }
            long allocated = threads.getThreadAllocatedBytes(thread) - before;
            assertThat(allocated).as("%s allocated too much (outcome %s)", what, t).isLessThan(MAX_ALLOCATION_BYTES);
            return t;
        }, () -> what + " did not finish within " + OP_TIMEOUT);
        if (failure != null && !(failure instanceof IOException)) {
            throw new AssertionError(what + " threw " + failure, failure);
        }
    }

    private static MemoryBlockStore store(Source source, byte[] bytes) throws IOException {
        MemoryBlockStore store = new MemoryBlockStore(Path.of(source.name() + ".qcow2"));
        store.write(0, ByteBuffer.wrap(bytes));
        return store;
    }

    private static BlockDevice backing(Source source) throws IOException {
        if (source.backing() == null) {
            return null;
        }
        MemoryBlockStore base = new MemoryBlockStore(Path.of("base.raw"));
        base.write(0, ByteBuffer.wrap(source.backing()));
        return new RawImage(base, true);
    }

    // ---- where the metadata is, read after the spec from the valid image -------------------

    private static List<Region> metadataRegions(Path file, byte[] bytes) throws IOException {
        Header h = Header.decode(file, ByteBuffer.wrap(bytes), bytes.length);
        long cluster = 1L << h.clusterBits();
        ByteBuffer b = ByteBuffer.wrap(bytes);
        List<Region> regions = new ArrayList<>();
        // The header with its extensions and backing name: the used part of cluster 0.
        long headerEnd = h.backingFileOffset() > 0 ? h.backingFileOffset() + h.backingFileSize()
                : Math.min(cluster, h.headerLength() + 256L);
        regions.add(new Region("header", 0, headerEnd));
        addL1AndL2(regions, b, "L1 table", h.l1TableOffset(), h.l1Size(), cluster);
        regions.add(new Region("refcount table", h.refcountTableOffset(),
                h.refcountTableOffset() + 8L * usedEntries(b, h.refcountTableOffset(), h.refcountTableClusters() * cluster / 8)));
        for (long i = 0; i < h.refcountTableClusters() * cluster / 8; i++) {
            long block = b.getLong((int) (h.refcountTableOffset() + 8 * i)) & ~(cluster - 1);
            if (block != 0) {
                regions.add(new Region("refcount block", block, block + cluster));
            }
        }
        if (h.nbSnapshots() > 0) {
            // Each entry: fixed 40 bytes, extra data, id, name, padded to 8 bytes (qcow2.txt).
            long at = h.snapshotsOffset();
            for (int s = 0; s < h.nbSnapshots(); s++) {
                long l1Offset = b.getLong((int) at);
                int l1Size = b.getInt((int) at + 8);
                int idSize = Short.toUnsignedInt(b.getShort((int) at + 12));
                int nameSize = Short.toUnsignedInt(b.getShort((int) at + 14));
                int extraSize = b.getInt((int) at + 36);
                long end = at + 40 + extraSize + idSize + nameSize;
                end = (end + 7) & ~7L;
                regions.add(new Region("snapshot table", at, end));
                addL1AndL2(regions, b, "snapshot L1 table", l1Offset, l1Size, cluster);
                at = end;
            }
        }
        return regions;
    }

    private static void addL1AndL2(List<Region> regions, ByteBuffer b, String kind, long l1Offset, int l1Size,
                                   long cluster) {
        regions.add(new Region(kind, l1Offset, l1Offset + 8L * l1Size));
        for (int i = 0; i < l1Size; i++) {
            long l2 = b.getLong((int) (l1Offset + 8L * i)) & 0x00ff_ffff_ffff_fe00L;
            if (l2 != 0 && regions.stream().noneMatch(x -> x.kind().equals("L2 table") && x.start() == l2)) {
                regions.add(new Region("L2 table", l2, l2 + cluster));
            }
        }
    }

    private static long usedEntries(ByteBuffer b, long tableOffset, long entries) {
        long used = 1;
        for (long i = 0; i < entries; i++) {
            if (b.getLong((int) (tableOffset + 8 * i)) != 0) {
                used = i + 1;
            }
        }
        return used;
    }
}
