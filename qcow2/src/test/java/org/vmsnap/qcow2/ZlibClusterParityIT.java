package org.vmsnap.qcow2;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.testkit.QemuImg;

/**
 * {@code convert -c} with zlib clusters: vmsnap's output is qemu-img's, byte for byte. The same
 * source (seeded: runs of one byte, text, random bytes that do not shrink, zeros, a disk size
 * that ends inside a cluster) is compressed by qemu-img and by vmsnap, with 1 and 4 compression
 * threads, at two cluster sizes; the files must be equal, so every compressed cluster is the
 * same deflate stream QEMU writes (the system's zlib with QEMU's 4 KiB window) and lies where
 * QEMU puts it.
 */
class ZlibClusterParityIT {
    @TempDir
    Path tmp;

    @Test
    void compressedConvertIsQemuImgsFileByteForByte() throws IOException {
        for (long seed = 1; seed <= 3; seed++) {
            for (int cluster : new int[] {65536, 4096}) {
                Random r = new Random(seed * 31 + cluster);
                long size = (3L << 20) + 12345; // ends inside a cluster: QEMU pads the last one with zeros
                Path raw = tmp.resolve("src-" + seed + "-" + cluster + ".raw");
                writeSource(raw, size, cluster, r);
                Path theirs = tmp.resolve("q-" + seed + "-" + cluster + ".qcow2");
                QemuImg.convert(raw, "raw", theirs, "qcow2", "-c", "-o", "cluster_size=" + cluster);
                for (int threads : new int[] {1, 4}) {
                    Path ours = tmp.resolve("v-" + seed + "-" + cluster + "-" + threads + ".qcow2");
                    try (BlockDevice source = Images.open(raw, OpenOptions.readOnlyOpen());
                         Qcow2Image target = Qcow2Image.create(ours,
                                 Qcow2CreateOptions.ofSize(size).withClusterSize(cluster))) {
                        ImageCopy.copy(source, target,
                                ImageCopy.CopyOptions.wholeChainToNewImage().withCompression().withThreads(threads),
                                Progress.NONE);
                    }
                    String what = "seed " + seed + ", cluster " + cluster + ", -m " + threads;
                    assertThat(QemuImg.compare(raw, "raw", ours, "qcow2")).as(what).isZero();
                    assertThat(Files.size(ours)).as(what).isEqualTo(Files.size(theirs));
                    assertThat(Files.mismatch(ours, theirs)).as(what + ": first differing byte").isEqualTo(-1L);
                }
            }
        }
    }

    /**
     * The options that change where fragments go: 1-bit refcounts (a cluster takes one fragment),
     * 2 MiB clusters, a v2 image, 8 KiB clusters with 16-bit refcounts; each the file qemu-img
     * writes. With 512-byte clusters a refcount block covers 128 KiB of file, so the file needs new
     * ones as it grows, which vmsnap places after the clusters that needed them and QEMU elsewhere
     * (DESIGN-CHANGES.md, qemuzlib): that file is only checked to read the same.
     */
    @Test
    void everyLayoutOptionGivesQemuImgsFile() throws IOException {
        String[] options = {"refcount_bits=1", "cluster_size=2M", "compat=0.10", "cluster_size=8k,refcount_bits=16",
            "cluster_size=512"};
        for (int k = 0; k < options.length; k++) {
            Random r = new Random(100 + k);
            long size = (5L << 20) + 4097;
            Path raw = tmp.resolve("o" + k + ".raw");
            int cluster = options[k].contains("cluster_size=512") ? 512
                    : options[k].contains("2M") ? 2 << 20 : options[k].contains("8k") ? 8192 : 65536;
            writeSource(raw, size, Math.min(cluster, 65536), r);
            Path theirs = tmp.resolve("o" + k + "-q.qcow2");
            QemuImg.convert(raw, "raw", theirs, "qcow2", "-c", "-o", options[k]);
            long sourceSize;
            try (BlockDevice source = Images.open(raw, OpenOptions.readOnlyOpen())) {
                sourceSize = source.size(); // what convert gives the target
            }
            Qcow2CreateOptions create = Qcow2CreateOptions.ofSize(sourceSize).withClusterSize(cluster);
            if (options[k].endsWith("refcount_bits=16")) {
                create = create.withRefcountBits(16);
            } else if (options[k].endsWith("refcount_bits=1")) {
                create = create.withRefcountBits(1);
            }
            if (options[k].contains("compat=0.10")) {
                create = create.withCompat("0.10");
            }
            Path ours = tmp.resolve("o" + k + "-v.qcow2");
            try (BlockDevice source = Images.open(raw, OpenOptions.readOnlyOpen());
                 Qcow2Image target = Qcow2Image.create(ours, create)) {
                ImageCopy.copy(source, target, ImageCopy.CopyOptions.wholeChainToNewImage().withCompression(),
                        Progress.NONE);
            }
            assertThat(QemuImg.compare(raw, "raw", ours, "qcow2")).as(options[k]).isZero();
            assertThat(QemuImg.check(ours).exitCode()).as(options[k]).isZero();
            if (cluster > 512) {
                assertThat(Files.mismatch(ours, theirs)).as(options[k] + ": first differing byte").isEqualTo(-1L);
            }
        }
    }

    /** Cluster by cluster, one of SeededClusters' kinds, so every run of the source has them in another order. */
    private static void writeSource(Path raw, long size, int cluster, Random r) throws IOException {
        try (var ch = java.nio.channels.FileChannel.open(raw, java.nio.file.StandardOpenOption.CREATE_NEW,
                java.nio.file.StandardOpenOption.WRITE)) {
            ch.truncate(size);
            for (long off = 0; off < size; off += cluster) {
                int kind = r.nextInt(SeededClusters.KINDS);
                if (kind == SeededClusters.ZEROS) {
                    continue; // a hole: reads zeros, left out
                }
                byte[] c = SeededClusters.cluster(r, cluster, kind);
                ch.write(ByteBuffer.wrap(c, 0, (int) Math.min(cluster, size - off)), off);
            }
        }
    }
}
