package org.vmsnap.qcow2;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.vmsnap.qcow2.engine.ImageChecker;
import org.vmsnap.qcow2.engine.ImageCreator;
import org.vmsnap.qcow2.io.FaultyBlockStore;
import org.vmsnap.qcow2.io.MemoryBlockStore;
import org.vmsnap.testkit.ReferenceDisk;

/**
 * Power loss at every point of a workload that exercises each kind of metadata update:
 * allocating L2 tables and data clusters, partial-cluster writes, write-zeroes, discard,
 * compressed writes, a resize that moves the L1 table to a bigger place, and enough
 * allocation to grow the refcount table (512-byte clusters with 64-bit refcounts: one
 * refcount block covers 64 clusters, one refcount table cluster 4096 clusters = 2 MiB).
 *
 * <p>The workload runs once on a {@link FaultyBlockStore} that never fails, to count its
 * store operations; then once per chosen failAt (every operation of every step when they are
 * few, otherwise an even spread plus a fixed random sample per step). After the crash the
 * disk holds what was flushed ({@code crashImage()}), or that plus a seeded random subset of
 * the unflushed writes, or every write before the failure in order. Every crash image must check without corruptions (leaks are allowed:
 * "write new, flush, switch, free old"), read back every byte the workload had acknowledged
 * by its last successful flush and not touched since, and take new writes.
 */
class CrashInjectionTest {

    private static final int CLUSTER = 512;
    private static final long INITIAL_SIZE = 1L << 20;
    /** Above 64 L1 entries x 64 L2 entries x 512 bytes = 2 MiB: the L1 table outgrows its cluster. */
    private static final long GROWN_SIZE = 4L << 20;
    /**
     * Crash images per failAt: the flushed state, one seeded variant (a random subset of the
     * unflushed writes kept), and a second seeded variant for every fourth failAt.
     */
    private static final long VARIANT_SEED = 0x5eed1L;
    private static final long SECOND_VARIANT_SEED = 0x5eed2L;
    /** Every failAt is tried up to this many operations (the workload makes about 430). */
    private static final int MAX_FAIL_POINTS = 600;
    /** Beyond that: failAt values per workload step. */
    private static final int SAMPLES_PER_STEP = 40;

    private static byte[] freshImage;
    private static long[] stepEnds;

    @BeforeAll
    static void countOperations() throws IOException {
        MemoryBlockStore fresh = new MemoryBlockStore(Path.of("crash.qcow2"));
        ImageCreator.create(fresh, Qcow2CreateOptions.ofSize(INITIAL_SIZE).withClusterSize(CLUSTER)
                .withRefcountBits(64));
        freshImage = fresh.toByteArray();
        Run run = Run.of(FaultyBlockStore.NEVER, null);
        assertThat(run.failure).as("workload without a crash").isNull();
        stepEnds = run.stepEnds.stream().mapToLong(Long::longValue).toArray();
        CheckResult c = ImageChecker.check(run.inner, RepairMode.NONE);
        assertThat(c.corruptions() + c.leaks()).as("check after the whole workload: %s", c.messages()).isZero();
        assertThat(run.finalImageSizeBytes).as("the workload grew the file past one refcount table cluster")
                .isGreaterThan(64L * 64 * CLUSTER);
        ByteBuffer before = ByteBuffer.wrap(freshImage);
        ByteBuffer after = ByteBuffer.wrap(run.inner.toByteArray());
        assertThat(after.getLong(40)).as("l1_table_offset: the resize moved the L1 table").isNotEqualTo(before.getLong(40));
        assertThat(after.getLong(48)).as("refcount_table_offset: the refcount table moved").isNotEqualTo(before.getLong(48));
        assertThat(after.getInt(56)).as("refcount_table_clusters").isGreaterThan(before.getInt(56));
    }

    @Test
    void everyCrashPointLeavesAConsistentImageWithTheFlushedData() throws IOException {
        List<Long> failAts = failAtSample();
        assertThat(failAts).hasSizeGreaterThan(50);
        // Every crash point is tried; the failures are reported together (the first few in
        // full), so one broken step does not hide another.
        List<String> failures = new ArrayList<>();
        int images = 0;
        for (long failAt : failAts) {
            List<Long> seeds = new ArrayList<>();
            seeds.add(null);
            seeds.add(VARIANT_SEED ^ failAt);
            if (failAt % 4 == 0) {
                seeds.add(SECOND_VARIANT_SEED ^ failAt);
            }
            for (Long seed : seeds) {
                images += seed == null ? 2 : 1;
                try {
                    verifyCrash(failAt, seed);
                } catch (AssertionError | IOException | RuntimeException e) {
                    failures.add(e.toString().replace("\n", " "));
                }
            }
        }
        assertThat(failures).as("%d of %d crash images failed; the first ones:%n%s", failures.size(), images,
                String.join("\n", failures.subList(0, Math.min(5, failures.size())))).isEmpty();
    }

    /**
     * Every failAt when the workload makes few operations; otherwise every failAt of small
     * steps and an even spread plus a fixed random sample of large ones.
     */
    private static List<Long> failAtSample() {
        TreeSet<Long> chosen = new TreeSet<>();
        long total = stepEnds[stepEnds.length - 1];
        if (total <= MAX_FAIL_POINTS) {
            for (long f = 1; f <= total; f++) {
                chosen.add(f);
            }
            return List.copyOf(chosen);
        }
        Random random = new Random(20240601L);
        long start = 1;
        for (long end : stepEnds) {
            long n = end - start + 1;
            if (n <= SAMPLES_PER_STEP) {
                for (long f = start; f <= end; f++) {
                    chosen.add(f);
                }
            } else {
                chosen.add(start);
                chosen.add(end);
                for (int i = 0; i < SAMPLES_PER_STEP / 2; i++) {
                    chosen.add(start + (n - 1) * i / (SAMPLES_PER_STEP / 2));
                    chosen.add(start + random.nextLong(n));
                }
            }
            start = end + 1;
        }
        return List.copyOf(chosen);
    }

    /**
     * Runs the workload into a power loss at failAt. Without a seed, two disks are judged:
     * one that kept only what was flushed, and one that kept every write before the failure
     * in order (the wrapped store itself); with a seed, one that kept a random subset of the
     * unflushed writes.
     */
    private static void verifyCrash(long failAt, Long seed) throws IOException {
        Run run = Run.of(failAt, seed);
        assertThat(run.failure).as("crash at operation %d: the workload saw the power loss", failAt).isNotNull();
        String step = " (step " + run.log.getLast() + ")";
        if (seed == null) {
            verifyImage("crash at operation " + failAt + step, run, run.faulty.crashImage());
            verifyImage("crash at operation " + failAt + " keeping every earlier write in order" + step, run,
                    MemoryBlockStore.copyOf(run.inner));
        } else {
            verifyImage("crash at operation " + failAt + " keeping unflushed writes of seed " + seed + step, run,
                    run.faulty.crashImage());
        }
    }

    private static void verifyImage(String what, Run run, MemoryBlockStore crash) throws IOException {

        CheckResult c = ImageChecker.check(crash, RepairMode.NONE);
        assertThat(c.corruptions()).as("%s: corruptions %s; steps %s", what, c.messages(), run.log).isZero();
        assertThat(c.checkErrors()).as("%s: check errors %s", what, c.messages()).isZero();

        ReferenceDisk flushed = run.lastFlushed;
        try (Qcow2Image image = Qcow2Image.openStore(crash, true, null)) {
            long size = image.size();
            assertThat(size).as("%s: virtual size", what).isIn(run.possibleSizes());
            long compared = Math.min(size, flushed.size());
            byte[] actual = new byte[(int) compared];
            image.read(0, ByteBuffer.wrap(actual));
            byte[] expected = flushed.read(0, (int) compared);
            for (long[] range : run.touchedSinceFlush) {
                // Written after the last successful flush: old or new bytes are both fine.
                int from = (int) Math.min(range[0], compared);
                int to = (int) Math.min(range[1], compared);
                Arrays.fill(actual, from, to, (byte) 0);
                Arrays.fill(expected, from, to, (byte) 0);
            }
            assertThat(Arrays.mismatch(actual, expected)).as("%s: first flushed byte that reads differently; steps %s",
                    what, run.log).isEqualTo(-1);
        }

        // The crashed image takes new writes and still checks without corruptions.
        try (Qcow2Image image = Qcow2Image.openStore(crash, false, null)) {
            byte[] data = new byte[3 * CLUSTER];
            Arrays.fill(data, (byte) 0x7e);
            image.write(image.size() / 2 + 100, ByteBuffer.wrap(data));
            image.flush();
        }
        CheckResult after = ImageChecker.check(crash, RepairMode.NONE);
        assertThat(after.corruptions()).as("%s, then a write: %s", what, after.messages()).isZero();
    }

    /** One run of the workload on a fresh image behind a FaultyBlockStore. */
    static final class Run {
        final MemoryBlockStore inner = new MemoryBlockStore(Path.of("crash.qcow2"));
        FaultyBlockStore faulty;
        final ReferenceDisk model = ReferenceDisk.qcow2(INITIAL_SIZE, CLUSTER, 3);
        ReferenceDisk lastFlushed = model.copy();
        /** Guest ranges [from, to) written, zeroed or discarded since the last successful flush. */
        final List<long[]> touchedSinceFlush = new ArrayList<>();
        /** Virtual sizes before and after a resize that has not been flushed yet (-1: none). */
        long sizeBeforeResize = -1;
        long resizeTarget = -1;
        /** Store operations counted at the end of each step (only meaningful without a failure). */
        final List<Long> stepEnds = new ArrayList<>();
        final List<String> log = new ArrayList<>();
        Exception failure;
        long finalImageSizeBytes;

        static Run of(long failAt, Long seed) throws IOException {
            Run run = new Run();
            run.inner.write(0, ByteBuffer.wrap(freshImage));
            run.faulty = seed == null ? new FaultyBlockStore(run.inner, failAt)
                    : new FaultyBlockStore(run.inner, failAt, seed);
            try {
                run.workload();
            } catch (IOException e) {
                run.failure = e;
            }
            run.finalImageSizeBytes = run.inner.size();
            return run;
        }

        List<Long> possibleSizes() {
            return sizeBeforeResize < 0 ? List.of(lastFlushed.size()) : List.of(sizeBeforeResize, resizeTarget);
        }

        private void workload() throws IOException {
            Random r = new Random(42);
            try (Qcow2Image image = Qcow2Image.openStore(faulty, false, null)) {
                step("first writes: L2 tables and data", image, () -> {
                    write(image, r, 0, 3 * CLUSTER);
                    write(image, r, 300 * 1024, 2 * CLUSTER);       // another L2 table
                    write(image, r, 900 * 1024 + 17, 4000);          // unaligned, spans clusters
                });
                step("partial-cluster writes", image, () -> {
                    write(image, r, 100, 50);                          // inside an allocated cluster
                    write(image, r, 600 * 1024 + 200, 100);            // inside a new cluster
                });
                step("write-zeroes", image, () -> {
                    zero(image, 0, 2 * CLUSTER);                        // whole allocated clusters
                    zero(image, 300 * 1024 + 100, 200);                 // part of a cluster
                    zero(image, 700 * 1024, 16 * CLUSTER);              // unallocated
                });
                step("discard", image, () -> {
                    discard(image, 300 * 1024, 2 * CLUSTER);
                    discard(image, 900 * 1024, 8 * CLUSTER);
                });
                step("compressed writes", image, () -> {
                    compressed(image, r, 400 * 1024, true);
                    compressed(image, r, 400 * 1024 + CLUSTER, false);
                    compressed(image, r, 0, true);                       // over a zeroed cluster
                });
                step("resize: the L1 table moves to two clusters", image, () -> {
                    sizeBeforeResize = model.size();
                    resizeTarget = GROWN_SIZE;
                    image.resize(GROWN_SIZE);
                    model.resize(GROWN_SIZE);
                });
                step("writes past the old end", image, () -> {
                    write(image, r, 3L << 20, 5 * CLUSTER);
                });
                step("allocation that grows the refcount table", image, () -> {
                    // 2.5 MiB of data in 512-byte clusters: the file outgrows the 2 MiB that
                    // one refcount table cluster covers.
                    for (long off = 1L << 20; off < (3L << 20) + (512L << 10); off += 64 * 1024) {
                        write(image, r, off, 64 * 1024);
                    }
                });
                step("writes after the refcount table grew", image, () -> {
                    write(image, r, 200, 700);
                    zero(image, 2L << 20, 8 * CLUSTER);
                    discard(image, (3L << 20) + 4096, 4 * CLUSTER);
                    compressed(image, r, (3L << 20) + (256L << 10), true);
                });
            }
        }

        @FunctionalInterface
        interface Step {
            void run() throws IOException;
        }

        /** Runs one step and flushes; records the flushed model and the step's operation count. */
        private void step(String name, Qcow2Image image, Step step) throws IOException {
            log.add(name);
            step.run();
            image.flush();
            lastFlushed = model.copy();
            touchedSinceFlush.clear();
            sizeBeforeResize = -1;
            stepEnds.add(faulty.operations());
        }

        private void write(Qcow2Image image, Random r, long off, int len) throws IOException {
            byte[] d = new byte[len];
            r.nextBytes(d);
            touch(off, len);
            image.write(off, ByteBuffer.wrap(d));
            model.write(off, d);
        }

        private void zero(Qcow2Image image, long off, long len) throws IOException {
            touch(off, len);
            image.writeZeroes(off, len);
            model.writeZeroes(off, len);
        }

        private void discard(Qcow2Image image, long off, long len) throws IOException {
            // A discard may drop whole clusters around the range: touched as whole clusters.
            long from = off / CLUSTER * CLUSTER;
            touch(from, (off + len + CLUSTER - 1) / CLUSTER * CLUSTER - from);
            image.discard(off, len);
            model.discard(off, len);
        }

        private void compressed(Qcow2Image image, Random r, long off, boolean compressible) throws IOException {
            byte[] d = new byte[CLUSTER];
            if (compressible) {
                Arrays.fill(d, (byte) (1 + r.nextInt(200)));
                d[r.nextInt(CLUSTER)] = 0x55;
            } else {
                r.nextBytes(d);
            }
            touch(off, CLUSTER);
            image.writeCompressed(off, d);
            model.write(off, d);
        }

        private void touch(long off, long len) {
            touchedSinceFlush.add(new long[] {off, off + len});
        }
    }
}
