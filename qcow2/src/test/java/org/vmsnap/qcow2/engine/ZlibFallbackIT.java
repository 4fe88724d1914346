package org.vmsnap.qcow2.engine;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.qcow2.Qcow2CreateOptions;
import org.vmsnap.qcow2.Qcow2Image;
import org.vmsnap.qcow2.SeededClusters;
import org.vmsnap.testkit.QemuImg;

/**
 * The java.util.zip fallback of ZlibCodec (a machine without libz.so.1), judged by QEMU: clusters
 * it compressed, written into a qcow2 image, read back by qemu-img as the same disk, and the
 * image checks clean. Its deflate streams use a 32 KiB window cut by a full flush every 4 KiB;
 * QEMU inflates with 4 KiB, so a reference reaching further would fail here.
 */
class ZlibFallbackIT {
    @TempDir
    Path tmp;

    @Test
    void qemuReadsTheFallbacksClusters() throws IOException {
        long seed = Long.getLong("vmsnap.seed", System.nanoTime());
        Random r = new Random(seed);
        int cluster = 65536;
        int clusters = 48;
        Path raw = tmp.resolve("disk.raw");
        Path image = tmp.resolve("disk.qcow2");
        ZlibCodec fallback = new ZlibCodec(false);
        try (FileChannel ch = FileChannel.open(raw, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
             Qcow2Image img = Qcow2Image.create(image, Qcow2CreateOptions.ofSize((long) cluster * clusters))) {
            ch.truncate((long) cluster * clusters);
            for (int i = 0; i < clusters; i++) {
                byte[] c = SeededClusters.cluster(r, cluster, r.nextInt(SeededClusters.KINDS));
                byte[] out = new byte[cluster - 1];
                int n = fallback.compress(c, c.length, out);
                img.writeCompressed((long) i * cluster, c, out, n);
                ch.write(ByteBuffer.wrap(c), (long) i * cluster);
            }
        }
        assertThat(QemuImg.check(image).exitCode()).as("seed %d", seed).isZero();
        assertThat(QemuImg.compare(raw, "raw", image, "qcow2")).as("seed %d", seed).isZero();
    }
}
