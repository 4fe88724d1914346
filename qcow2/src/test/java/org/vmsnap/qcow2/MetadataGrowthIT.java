package org.vmsnap.qcow2;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.testkit.QemuImg;
import org.vmsnap.testkit.ReferenceDisk;

/**
 * The rare metadata moves, forced with tiny clusters and wide refcounts: the refcount table
 * outgrows its clusters several times (new table and blocks written, synced, header
 * switched, old table freed) and the L1 table moves on resize. QEMU judges the result.
 */
class MetadataGrowthIT {
    @TempDir
    Path dir;

    @Test
    void refcountTableAndL1TableMoveAndQemuAgrees() throws Exception {
        Path file = dir.resolve("grow.qcow2");
        long size = 1L << 20;
        // 512 B clusters, 64-bit refcounts: one refcount block covers 64 clusters (32 KiB) and
        // one table cluster 64 blocks (2 MiB): 12 MiB of data needs the table to grow ~3 times.
        Qcow2CreateOptions o = Qcow2CreateOptions.ofSize(size).withClusterSize(512).withRefcountBits(64);
        ReferenceDisk model = ReferenceDisk.qcow2(size, 512, 3);
        Random r = new Random(42);
        try (Qcow2Image img = Qcow2Image.create(file, o)) {
            long initialL1 = l1Offset(img);
            img.resize(16L << 20); // 512 B clusters: one L1 cluster maps 2 MiB, so the L1 table moves
            model.resize(16L << 20);
            assertThat(l1Offset(img)).isNotEqualTo(initialL1);
            for (int i = 0; i < 200; i++) {
                long off = r.nextLong((16L << 20) - 70000);
                byte[] d = new byte[1 + r.nextInt(65536)];
                r.nextBytes(d);
                img.write(off, ByteBuffer.wrap(d));
                model.write(off, d);
                if (i % 50 == 49) {
                    img.flush();
                }
            }
            img.flush();
            assertThat(model.firstDifference(img::read)).isEqualTo(-1);
        }
        assertThat(headerField(file, 56, 4)).as("refcount_table_clusters after growth").isGreaterThan(3);
        QemuImg.CheckOutcome check = QemuImg.check(file);
        assertThat(check.exitCode()).as("qemu-img check: %s %s", check.json(), check.stderr()).isZero();
        Path raw = dir.resolve("model.raw");
        model.writeRawFile(raw);
        assertThat(QemuImg.compare(raw, "raw", file, "qcow2")).isZero();
        try (Qcow2Image img = Qcow2Image.open(file, OpenOptions.readOnlyOpen())) {
            assertThat(model.firstDifference(img::read)).isEqualTo(-1);
        }
    }

    private static long l1Offset(Qcow2Image img) throws Exception {
        return headerField(img.path(), 40, 8);
    }

    /** Reads a header field straight from the file, as an outside observer. */
    private static long headerField(Path file, int offset, int bytes) throws java.io.IOException {
        try (var ch = java.nio.channels.FileChannel.open(file)) {
            ByteBuffer b = ByteBuffer.allocate(8);
            ch.read(b.limit(bytes), offset);
            return bytes == 8 ? b.getLong(0) : Integer.toUnsignedLong(b.getInt(0));
        }
    }
}
