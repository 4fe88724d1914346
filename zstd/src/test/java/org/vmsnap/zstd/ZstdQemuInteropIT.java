package org.vmsnap.zstd;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.vmsnap.zstd.Qcow2Layout.CompressedRange;
import org.vmsnap.zstd.Qcow2Layout.Header;
import org.vmsnap.zstd.Qcow2Layout.L2Slot;

/**
 * QEMU is the oracle both ways: qemu-img compresses a raw file into a zstd qcow2 and this
 * codec must decode every compressed cluster QEMU wrote; then this codec's frames replace
 * QEMU's in the image and qemu-img must read the same data back.
 */
class ZstdQemuInteropIT {

    private static final long SEED = 7_2_0L;
    /** Kinds cycle over the disk so that each one appears several times, zeros included. */
    private static final ClusterData[] PATTERN = ClusterData.values();

    @TempDir
    Path dir;

    private final ZstdClusterCodec codec = new ZstdClusterCodec();

    /** Cluster sizes: the smallest, a small one, the default and the largest. */
    @ParameterizedTest(name = "{0}-byte clusters")
    @CsvSource({"512, 64", "4096, 64", "65536, 40", "2097152, 10"})
    void decodesEveryClusterQemuCompressed(int clusterBytes, int clusters) throws Exception {
        Path raw = writeSource(clusterBytes, clusters);
        Path image = qemuCompress(raw, clusterBytes);

        int compressed = 0;
        int normal = 0;
        try (FileChannel file = Qcow2Layout.open(image, false)) {
            Header h = Qcow2Layout.header(file);
            assertThat(h.compressionType()).as("compression_type").isEqualTo(1);
            assertThat(h.incompatibleFeatures() & 8).as("compression type feature bit").isEqualTo(8);
            assertThat(h.clusterBytes()).isEqualTo(clusterBytes);
            List<CompressedRange> ranges = new ArrayList<>();
            for (L2Slot slot : Qcow2Layout.l2Slots(file, h)) {
                int index = Math.toIntExact(slot.guestOffset() / clusterBytes);
                ClusterData kind = kindOf(index);
                byte[] expected = ClusterData.cluster(kind, clusterBytes, slot.guestOffset(), SEED);
                String where = kind + " cluster at guest 0x" + Long.toHexString(slot.guestOffset());
                if (slot.entry() == 0 || slot.entry() == Qcow2Layout.L2_ZERO) {
                    assertThat(kind).as(where + " has no data in the image").isEqualTo(ClusterData.ZERO);
                } else if (Qcow2Layout.isCompressed(slot.entry())) {
                    CompressedRange range = Qcow2Layout.compressedRange(h, slot.entry());
                    ranges.add(range);
                    assertThat(decode(file, range, clusterBytes)).as(where).isEqualTo(expected);
                    compressed++;
                } else {
                    long hostOffset = slot.entry() & Qcow2Layout.L2_OFFSET_MASK;
                    byte[] stored = Qcow2Layout.read(file, hostOffset, clusterBytes).array();
                    assertThat(stored).as(where + " stored uncompressed").isEqualTo(expected);
                    assertThat(kind).as(where + " stored uncompressed")
                            .isIn(ClusterData.RANDOM, ClusterData.HALF_RANDOM);
                    normal++;
                }
            }
            // QEMU packs compressed clusters back to back: a cluster's last sector usually holds
            // the start of the next one, which is what the decoder must stop before.
            assertThat(sharedSectors(ranges)).as("compressed clusters sharing a sector").isPositive();
        }
        int textAndLowEntropy = countKinds(clusters, ClusterData.TEXT, ClusterData.LOW_ENTROPY);
        assertThat(compressed).isGreaterThanOrEqualTo(textAndLowEntropy);
        assertThat(normal).isGreaterThanOrEqualTo(countKinds(clusters, ClusterData.RANDOM));
    }

    @ParameterizedTest(name = "{0}-byte clusters")
    @CsvSource({"512, 64", "4096, 64", "65536, 40", "2097152, 10"})
    void qemuReadsClustersThisCodecCompressed(int clusterBytes, int clusters) throws Exception {
        Path raw = writeSource(clusterBytes, clusters);
        Path image = qemuCompress(raw, clusterBytes);

        long firstFrame;
        int firstFrameLength;
        try (FileChannel file = Qcow2Layout.open(image, true)) {
            Header h = Qcow2Layout.header(file);
            // Our frames go after everything QEMU wrote, packed back to back like QEMU packs
            // them, and the L2 entries are pointed at them. Refcounts are not updated (QEMU's
            // old clusters leak, ours are unaccounted): reading does not consult them.
            long next = Math.ceilDiv(file.size(), clusterBytes) * (long) clusterBytes;
            firstFrame = next;
            firstFrameLength = 0;
            int replaced = 0;
            for (L2Slot slot : Qcow2Layout.l2Slots(file, h)) {
                int index = Math.toIntExact(slot.guestOffset() / clusterBytes);
                byte[] cluster = ClusterData.cluster(kindOf(index), clusterBytes, slot.guestOffset(), SEED);
                byte[] frame = new byte[clusterBytes - 1];
                int length = codec.compress(cluster, clusterBytes, frame);
                if (kindOf(index) == ClusterData.RANDOM) {
                    assertThat(length).as("random data does not fit, as QEMU found").isEqualTo(-1);
                }
                if (!Qcow2Layout.isCompressed(slot.entry()) || length < 0) {
                    continue;
                }
                write(file, next, ByteBuffer.wrap(frame, 0, length));
                write(file, slot.entryHostOffset(),
                        ByteBuffer.allocate(8).putLong(0, Qcow2Layout.compressedEntry(h, next, length)));
                if (replaced == 0) {
                    firstFrameLength = length;
                }
                next += length;
                replaced++;
            }
            // End the file on a cluster boundary, as QEMU's own images do.
            long end = Math.ceilDiv(next, clusterBytes) * (long) clusterBytes;
            write(file, end - 1, ByteBuffer.allocate(1));
            file.force(true);
            assertThat(replaced).as("clusters now holding this codec's frames").isPositive();
        }

        QemuTool.run(dir, "qemu-img", "compare", "-f", "qcow2", "-F", "raw", image.toString(), raw.toString())
                .expectExit(0);

        // Control: damage one of our frames and QEMU must notice, so the comparison above
        // really read this codec's output.
        try (FileChannel file = Qcow2Layout.open(image, true)) {
            long at = firstFrame + firstFrameLength / 2;
            ByteBuffer b = Qcow2Layout.read(file, at, 1);
            write(file, at, ByteBuffer.wrap(new byte[] {(byte) ~b.get(0)}));
        }
        QemuTool.Result damaged = QemuTool.run(dir, "qemu-img", "compare", "-f", "qcow2", "-F", "raw",
                image.toString(), raw.toString());
        assertThat(damaged.exitCode()).as("qemu-img compare after damaging a frame: %s", damaged)
                .isNotZero();
    }

    private static ClusterData kindOf(int clusterIndex) {
        return PATTERN[clusterIndex % PATTERN.length];
    }

    private static int countKinds(int clusters, ClusterData... kinds) {
        int count = 0;
        for (int i = 0; i < clusters; i++) {
            if (List.of(kinds).contains(kindOf(i))) {
                count++;
            }
        }
        return count;
    }

    private Path writeSource(int clusterBytes, int clusters) throws IOException {
        Path raw = dir.resolve("source.raw");
        try (FileChannel out = FileChannel.open(raw, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            for (int i = 0; i < clusters; i++) {
                long guestOffset = (long) i * clusterBytes;
                write(out, guestOffset, ByteBuffer.wrap(ClusterData.cluster(kindOf(i), clusterBytes, guestOffset, SEED)));
            }
        }
        return raw;
    }

    private Path qemuCompress(Path raw, int clusterBytes) throws IOException, InterruptedException {
        Path image = dir.resolve("zstd.qcow2");
        QemuTool.run(dir, "qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2",
                "-o", "compression_type=zstd,cluster_size=" + clusterBytes, raw.toString(), image.toString())
                .expectExit(0);
        return image;
    }

    private byte[] decode(FileChannel file, CompressedRange range, int clusterBytes) throws IOException {
        // The last sector may be cut short by the end of the file.
        long available = Math.min(range.storedBytes(), file.size() - range.hostOffset());
        byte[] stored = Qcow2Layout.read(file, range.hostOffset(), Math.toIntExact(available)).array();
        byte[] cluster = new byte[clusterBytes];
        codec.decompress(stored, stored.length, cluster);
        return cluster;
    }

    private static int sharedSectors(List<CompressedRange> ranges) {
        List<CompressedRange> sorted = new ArrayList<>(ranges);
        sorted.sort(Comparator.comparingLong(CompressedRange::hostOffset));
        int shared = 0;
        for (int i = 1; i < sorted.size(); i++) {
            CompressedRange previous = sorted.get(i - 1);
            if (sorted.get(i).hostOffset() < previous.hostOffset() + previous.storedBytes()) {
                shared++;
            }
        }
        return shared;
    }

    private static void write(FileChannel file, long position, ByteBuffer data) throws IOException {
        long at = position;
        while (data.hasRemaining()) {
            at += file.write(data, at);
        }
    }
}
