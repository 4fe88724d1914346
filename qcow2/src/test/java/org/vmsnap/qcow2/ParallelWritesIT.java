package org.vmsnap.qcow2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.FileSystemException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.qcow2.io.BlockStore;
import org.vmsnap.qcow2.io.FileBlockStore;
import org.vmsnap.qcow2.io.ZeroScan;
import org.vmsnap.testkit.QemuImg;
import org.vmsnap.testkit.QemuIo;

/**
 * The parallel write path (writes ended on other threads, L2 entries set after their data),
 * judged by QEMU: seeded images written by qemu-io are converted (qcow2, raw), committed (1..16
 * writes in flight) and safely rebased by vmsnap, and qemu-img compare and check agree; a write that fails
 * in the middle of the pipeline gives one error naming the file and the offset, and leaves a
 * target that checks clean and reads, cluster by cluster, the source's data or zeros.
 */
class ParallelWritesIT {
    private static final long SIZE = 24L << 20;
    private static final int CLUSTER = 64 << 10;

    @TempDir
    Path tmp;

    @Test
    void seededConvertsAndCommitsAgreeWithQemu() throws IOException {
        for (long seed = 1; seed <= 3; seed++) {
            Random r = new Random(seed);
            Path dir = tmp.resolve("s" + seed);
            Path top = seededChain(dir, r);
            Path base = dir.resolve("base.qcow2");
            int threads = 1 + r.nextInt(ImageCopy.MAX_THREADS);

            for (String format : List.of("qcow2", "raw")) {
                Path out = dir.resolve("out." + format);
                try (BlockDevice source = Images.open(top, OpenOptions.readOnlyOpen());
                     BlockDevice target = format.equals("raw") ? newRaw(out) : Qcow2Image.create(out,
                             Qcow2CreateOptions.ofSize(SIZE))) {
                    ImageCopy.copy(source, target, ImageCopy.CopyOptions.wholeChainToNewImage().withThreads(threads),
                            Progress.NONE);
                }
                assertThat(QemuImg.compare(top, "qcow2", out, format)).as("seed %d, -m %d, %s", seed, threads, format)
                        .isZero();
                if (format.equals("qcow2")) {
                    assertThat(QemuImg.check(out).exitCode()).as("check, seed %d", seed).isZero();
                }
            }

            Path copyOfTop = dir.resolve("copy.qcow2");
            QemuImg.convert(top, "qcow2", copyOfTop, "qcow2");
            ImageCommit.commit(top, "qcow2", null, true, Progress.NONE, CacheMode.WRITEBACK, threads);
            assertThat(QemuImg.check(base).exitCode()).as("base check, seed %d", seed).isZero();
            assertThat(QemuImg.compare(base, "qcow2", copyOfTop, "qcow2")).as("commit, seed %d, %d threads", seed,
                    threads).isZero();

            // Safe rebase onto an empty image: every differing cluster is queued; top reads the same.
            QemuImg.create(dir.resolve("empty.qcow2"), "qcow2", SIZE);
            ImageRebase.rebase(top, "qcow2", "empty.qcow2", "qcow2", false, Progress.NONE);
            assertThat(QemuImg.check(top).exitCode()).as("top check after rebase, seed %d", seed).isZero();
            assertThat(QemuImg.compare(top, "qcow2", copyOfTop, "qcow2")).as("rebase, seed %d", seed).isZero();
        }
    }

    @Test
    void aWriteFailingMidwayGivesOneErrorAndAConsistentTarget() throws IOException {
        Path src = tmp.resolve("src.qcow2");
        QemuImg.create(src, "qcow2", SIZE);
        QemuIo.run(src, "qcow2", pattern(new Random(7), 60));
        for (int failAt : new int[] {1, 3, 9}) {
            Path out = tmp.resolve("out" + failAt + ".qcow2");
            QemuImg.create(out, "qcow2", SIZE);
            FailingStore store = new FailingStore(FileBlockStore.open(out, false, false), failAt);
            try (BlockDevice source = Images.open(src, OpenOptions.readOnlyOpen())) {
                // Closed after the failure: close() flushes the tables as the failure left them.
                try (Qcow2Image target = Qcow2Image.openStore(store, false, null)) {
                    assertThatThrownBy(() -> ImageCopy.copy(source, target,
                            ImageCopy.CopyOptions.wholeChainToNewImage().withThreads(4), Progress.NONE))
                            .isInstanceOf(FileSystemException.class)
                            .hasMessageContaining(out.toString())
                            .hasMessageContaining("Input/output error")
                            .hasMessageContaining("guest offset 0x");
                }
                assertThat(store.failures.get()).isEqualTo(1);
                assertThat(QemuImg.check(out).exitCode()).as("check after failing write %d", failAt).isZero();
                // Every cluster reads the source's bytes or zeros: never a table entry without its data.
                try (BlockDevice after = Images.open(out, OpenOptions.readOnlyOpen())) {
                    ByteBuffer a = ByteBuffer.allocate(CLUSTER);
                    ByteBuffer b = ByteBuffer.allocate(CLUSTER);
                    int copied = 0;
                    for (long pos = 0; pos < SIZE; pos += CLUSTER) {
                        a.clear();
                        b.clear();
                        source.read(pos, a);
                        after.read(pos, b);
                        boolean same = a.flip().equals(b.flip());
                        boolean zero = ZeroScan.isZero(b, 0, CLUSTER);
                        assertThat(same || zero).as("cluster at 0x%x after failing write %d", pos, failAt).isTrue();
                        copied += same && !zero ? 1 : 0;
                    }
                    if (failAt > 1) {
                        // the writes queued before the failing one ended and are in the tables
                        assertThat(copied).as("clusters copied before write %d failed", failAt).isPositive();
                    }
                }
            }
        }
    }

    /**
     * Clusters the guest wrote 4 KiB of (the rest a hole, as QEMU leaves it) are copied by writing
     * only their data blocks into the new clusters, the rest allocated as zeros: the converted
     * image maps as qemu-img's own convert does (data and zero pieces at the same host places),
     * checks clean and reads the same; a commit of such an overlay reads the same too.
     */
    @Test
    void partlyWrittenClustersAreCopiedAsQemuCopiesThem() throws IOException {
        Path src = tmp.resolve("partial.qcow2");
        QemuImg.create(src, "qcow2", SIZE);
        List<String> cmds = new ArrayList<>();
        cmds.add("write -P 0x5a 0 1M");
        for (long mib = 1; mib < SIZE >> 20; mib++) {
            // a 4 KiB piece at the start, the middle and the end of a cluster, and one across two
            long off = (mib << 20) + (mib % 4) * (CLUSTER - 4096) / 2 + (mib % 4 == 3 ? 2048 : 0);
            cmds.add("write -P " + (0x10 + mib) + " " + off + " 4k");
        }
        QemuIo.run(src, "qcow2", cmds);
        Path mine = tmp.resolve("mine.qcow2");
        Path qemus = tmp.resolve("qemus.qcow2");
        try (BlockDevice source = Images.open(src, OpenOptions.readOnlyOpen());
             BlockDevice target = Qcow2Image.create(mine, Qcow2CreateOptions.ofSize(SIZE))) {
            ImageCopy.copy(source, target, ImageCopy.CopyOptions.wholeChainToNewImage(), Progress.NONE);
        }
        QemuImg.convert(src, "qcow2", qemus, "qcow2");
        assertThat(QemuImg.check(mine).exitCode()).isZero();
        assertThat(QemuImg.compare(src, "qcow2", mine, "qcow2")).isZero();
        assertThat(QemuImg.mapJson(mine, "qcow2")).isEqualTo(QemuImg.mapJson(qemus, "qcow2"));

        Path base = tmp.resolve("pbase.qcow2");
        QemuImg.create(base, "qcow2", SIZE);
        QemuImg.rebaseUnsafe(src, "pbase.qcow2", "qcow2");
        ImageCommit.commit(src, "qcow2", null, true, Progress.NONE, CacheMode.WRITEBACK, 4);
        assertThat(QemuImg.check(base).exitCode()).isZero();
        assertThat(QemuImg.compare(base, "qcow2", qemus, "qcow2")).isZero();
    }

    /**
     * convert -c compresses on 1..16 threads and writes in disk order: the same file byte for byte
     * as on one thread, which qemu-img reads as the source and checks clean; into an existing
     * image (-n) the zeros of the source are written as zeros too; only the top layer onto a backed
     * image (-B) too.
     */
    @Test
    void compressedConvertsOnSeveralThreadsAreTheOneThreadFile() throws IOException {
        for (long seed = 1; seed <= 3; seed++) {
            Random r = new Random(seed);
            Path dir = tmp.resolve("c" + seed);
            Path top = seededChain(dir, r);
            int threads = 2 + r.nextInt(ImageCopy.MAX_THREADS - 1);
            byte[] one = null;
            for (int t : new int[] {1, threads}) {
                Path out = dir.resolve("out" + t + ".qcow2");
                try (BlockDevice source = Images.open(top, OpenOptions.readOnlyOpen());
                     Qcow2Image target = Qcow2Image.create(out, Qcow2CreateOptions.ofSize(SIZE))) {
                    ImageCopy.copy(source, target, ImageCopy.CopyOptions.wholeChainToNewImage().withCompression()
                            .withThreads(t), Progress.NONE);
                }
                assertThat(QemuImg.compare(top, "qcow2", out, "qcow2")).as("seed %d, -m %d", seed, t).isZero();
                assertThat(QemuImg.check(out).exitCode()).as("check, seed %d, -m %d", seed, t).isZero();
                byte[] bytes = java.nio.file.Files.readAllBytes(out);
                if (one == null) {
                    one = bytes;
                } else {
                    assertThat(bytes).as("seed %d: -m %d writes the -m 1 file", seed, t).isEqualTo(one);
                }
            }
            // -n: an image full of data receives the source, its zeros included.
            Path full = dir.resolve("full.qcow2");
            QemuImg.create(full, "qcow2", SIZE);
            QemuIo.run(full, "qcow2", List.of("write -P 7 0 " + SIZE));
            try (BlockDevice source = Images.open(top, OpenOptions.readOnlyOpen());
                 Qcow2Image target = Qcow2Image.open(full, OpenOptions.readWrite())) {
                ImageCopy.copy(source, target, ImageCopy.CopyOptions.wholeChainToNewImage().withTargetNotZeroed()
                        .withCompression().withThreads(threads), Progress.NONE);
            }
            assertThat(QemuImg.compare(top, "qcow2", full, "qcow2")).as("-n, seed %d", seed).isZero();
            assertThat(QemuImg.check(full).exitCode()).as("-n check, seed %d", seed).isZero();
            // -B: the top layer alone, compressed, onto a new overlay of base.
            Path over = dir.resolve("over.qcow2");
            QemuImg.createOverlay(over, Path.of("base.qcow2"), "qcow2");
            try (BlockDevice source = Images.open(top, OpenOptions.readOnlyOpen());
                 Qcow2Image target = Qcow2Image.open(over, OpenOptions.readWrite())) {
                ImageCopy.copy(source, target, ImageCopy.CopyOptions.topLayerOntoBackedImage().withCompression()
                        .withThreads(threads), Progress.NONE);
            }
            assertThat(QemuImg.compare(top, "qcow2", over, "qcow2")).as("-B, seed %d", seed).isZero();
            assertThat(QemuImg.check(over).exitCode()).as("-B check, seed %d", seed).isZero();
        }
    }

    /** {@code dir}/base.qcow2 and its overlay top.qcow2 (returned), each with 40 seeded qemu-io writes. */
    private static Path seededChain(Path dir, Random r) throws IOException {
        java.nio.file.Files.createDirectories(dir);
        Path base = dir.resolve("base.qcow2");
        Path top = dir.resolve("top.qcow2");
        QemuImg.create(base, "qcow2", SIZE);
        QemuIo.run(base, "qcow2", pattern(r, 40));
        QemuImg.createOverlay(top, Path.of("base.qcow2"), "qcow2");
        QemuIo.run(top, "qcow2", pattern(r, 40));
        return top;
    }

    /** qemu-io commands: {@code n} writes of 4 KiB..300 KiB with seeded patterns and places, some zeros. */
    private static List<String> pattern(Random r, int n) {
        List<String> cmds = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            long len = (1 + r.nextInt(75)) * 4096L;
            long off = (r.nextLong(SIZE - len) / 512) * 512;
            cmds.add(r.nextInt(6) == 0 ? "write -z " + off + " " + len
                    : "write -P " + (1 + r.nextInt(250)) + " " + off + " " + len);
        }
        return cmds;
    }

    private static BlockDevice newRaw(Path out) throws IOException {
        RawImage.create(out, SIZE);
        return RawImage.open(out, OpenOptions.readWrite().withFormat("raw"));
    }

    /** A file whose {@code failAt}-th data write on a write thread fails with EIO; safe from several threads. */
    private static final class FailingStore implements BlockStore {
        private final FileBlockStore inner;
        private final int failAt;
        private final AtomicInteger dataWrites = new AtomicInteger();
        final AtomicInteger failures = new AtomicInteger();

        FailingStore(FileBlockStore inner, int failAt) {
            this.inner = inner;
            this.failAt = failAt;
        }

        @Override
        public void write(long hostOffset, ByteBuffer src) throws IOException {
            // Only the data writes of the pipeline count (metadata is written on the caller's thread).
            if (Thread.currentThread().getName().startsWith("vmsnap-write-") && dataWrites.incrementAndGet() == failAt) {
                failures.incrementAndGet();
                throw new FileSystemException(inner.path().toString(), null, "Input/output error");
            }
            inner.write(hostOffset, src);
        }

        @Override
        public boolean concurrentWrites() {
            return true;
        }

        @Override
        public Path path() {
            return inner.path();
        }

        @Override
        public long size() throws IOException {
            return inner.size();
        }

        @Override
        public void read(long hostOffset, ByteBuffer dst) throws IOException {
            inner.read(hostOffset, dst);
        }

        @Override
        public void truncate(long sizeBytes) throws IOException {
            inner.truncate(sizeBytes);
        }

        @Override
        public void flush() throws IOException {
            inner.flush();
        }

        @Override
        public boolean punchHole(long hostOffset, long lengthBytes) throws IOException {
            return inner.punchHole(hostOffset, lengthBytes);
        }

        @Override
        public long allocatedBytes() throws IOException {
            return inner.allocatedBytes();
        }

        @Override
        public long nextData(long hostOffset) throws IOException {
            return inner.nextData(hostOffset);
        }

        @Override
        public long nextHole(long hostOffset) throws IOException {
            return inner.nextHole(hostOffset);
        }

        @Override
        public boolean isReadOnly() {
            return false;
        }

        @Override
        public void close() throws IOException {
            inner.close();
        }
    }
}
