package org.vmsnap.qcow2;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.vmsnap.testkit.QemuImg;
import org.vmsnap.testkit.QemuIo;
import org.vmsnap.testkit.SeededRun;

/**
 * QEMU 7.2 writes images with extended L2 entries ({@code extended_l2=on}: 128-bit L2
 * entries, 32 subclusters per cluster), vmsnap reads them. For cluster sizes of 16 KiB (the
 * smallest QEMU allows with subclusters), 64 KiB and 2 MiB, with no backing file, a raw one,
 * a standard qcow2 one and one with extended L2 entries itself (sometimes shorter than the
 * image), qemu-io writes patterns, zeros ({@code -z}, {@code -z -u}) and discards at
 * subcluster, sector and cluster offsets and lengths, after a few compressed clusters
 * ({@code write -c}); half the runs take an internal snapshot in between. Then:
 * <ul>
 *   <li>vmsnap reads every byte as {@code qemu-img convert -O raw} does, also the snapshot
 *       ({@code convert -l}) and a standard overlay on top of the image;</li>
 *   <li>its block status, merged as qemu-img merges, is {@code qemu-img map --output=json}
 *       entry for entry, runs split at subcluster boundaries included;</li>
 *   <li>its check finds what {@code qemu-img check} finds (all counts, the image end offset)
 *       and its info says what {@code qemu-img info} says.</li>
 * </ul>
 */
class ExtendedL2ReadIT {

    private static final int KIB = 1024;
    private static final int MIB = 1024 * KIB;
    private static final int[] CLUSTER_SIZES = {16 * KIB, 64 * KIB, 2 * MIB};

    /** What lies under the image. */
    enum Backing { NONE, RAW, QCOW2, EXTENDED_L2 }

    record Combination(int index, int clusterBytes, Backing backing) {
        @Override
        public String toString() {
            return "cluster_size=" + clusterBytes + " backing=" + backing;
        }
    }

    static Stream<Combination> combinations() {
        List<Combination> all = new ArrayList<>();
        for (int cluster : CLUSTER_SIZES) {
            for (Backing b : Backing.values()) {
                all.add(new Combination(all.size(), cluster, b));
            }
        }
        return all.stream();
    }

    @TempDir
    Path dir;

    @ParameterizedTest(name = "{0}")
    @MethodSource("combinations")
    void vmsnapReadsWhatQemuWrote(Combination c) {
        List<Long> seeds = SeededRun.seeds();
        long seed = seeds.get(c.index() % seeds.size());
        SeededRun.run("qemu writes extended L2, vmsnap reads [" + c + "]", seed, run -> new Scenario(c, run).play());
    }

    /**
     * The smallest fixture that shows every subcluster state in one cluster, with the
     * map and the bytes qemu-img gives for it spelled out: runs split inside a cluster, and
     * unallocated subclusters of an allocated cluster keep their host offset.
     */
    @Test
    void oneClusterWithEverySubclusterState() throws IOException {
        Path image = dir.resolve("every.qcow2");
        QemuImg.create(image, "qcow2", 4 * MIB, "extended_l2=on", "cluster_size=64k");
        QemuIo.run(image, "qcow2", "write -P 0xaa 4k 8k", "write -z 32k 4k", "write -P 0xbb 128k 64k",
                "write -z 256k 6k");
        JsonNode map = QemuImg.mapJson(image);
        // 2 KiB subclusters: 0-4k unallocated, 4k-12k data, 12k-32k unallocated, 32k-36k zero...
        assertThat(map.get(0).get("length").asLong()).isEqualTo(4096);
        assertThat(map.get(0).get("present").asBoolean()).isFalse();
        assertThat(map.get(0).has("offset")).as("unallocated subclusters of an allocated cluster have an offset").isTrue();
        assertThat(map.get(1).get("data").asBoolean()).isTrue();
        assertThat(map.get(3).get("zero").asBoolean()).isTrue();
        assertThat(map.get(3).get("present").asBoolean()).isTrue();
        Qcow2ReadDifferentialIT.sameMap(image, "qcow2", "every subcluster state");
        Qcow2ReadDifferentialIT.sameBytes(image, "qcow2", dir, "every subcluster state");
        try (Qcow2Image img = Qcow2Image.open(image, OpenOptions.readOnlyOpen())) {
            ByteBuffer b = ByteBuffer.allocate(16 * KIB);
            img.read(0, b);
            assertThat(b.get(4095)).isZero();
            assertThat(b.get(4096)).isEqualTo((byte) 0xaa);
            assertThat(b.get(12287)).isEqualTo((byte) 0xaa);
            assertThat(b.get(12288)).isZero();
            BlockStatus s = img.blockStatus(5 * KIB, MIB);
            assertThat(s.lengthBytes()).as("a data run ends at the subcluster that holds no data").isEqualTo(7 * KIB);
        }
    }

    /**
     * Down a chain, the layer that decides a run of zeros keeps the host offset of its
     * unallocated subclusters in qemu-img map: the bottom layer (depth 2 here), and a layer
     * whose backing file ends before the run (depth 1, past the end of the 1 MiB base).
     */
    @Test
    void chainsKeepTheOffsetOfUnallocatedSubclusters() throws IOException {
        Path base = dir.resolve("cbase.qcow2");
        QemuImg.create(base, "qcow2", MIB, "extended_l2=on", "cluster_size=64k");
        QemuIo.run(base, "qcow2", "write -P 0x11 2k 2k");
        Path mid = dir.resolve("cmid.qcow2");
        QemuImg.run(List.of("create", "-q", "-f", "qcow2", "-o", "extended_l2=on,cluster_size=64k", "-b",
                "cbase.qcow2", "-F", "qcow2", mid.toString(), "3M"));
        QemuIo.run(mid, "qcow2", "write -P 0x22 1092k 2k");
        Path top = dir.resolve("ctop.qcow2");
        QemuImg.createOverlay(top, mid, "qcow2");
        QemuIo.run(top, "qcow2", "write -P 0x33 2M 4k");
        JsonNode map = QemuImg.mapJson(top);
        assertThat(map.get(0).get("depth").asInt()).isEqualTo(2);
        assertThat(map.get(0).get("present").asBoolean()).isFalse();
        assertThat(map.get(0).has("offset")).isTrue();
        assertThat(map.get(5).get("depth").asInt()).isEqualTo(1);
        assertThat(map.get(5).get("start").asLong()).isEqualTo(1092 * KIB - 4 * KIB);
        assertThat(map.get(5).has("offset")).isTrue();
        for (Path image : List.of(top, mid, base)) {
            Qcow2ReadDifferentialIT.sameMap(image, "qcow2", "chain");
            Qcow2ReadDifferentialIT.sameBytes(image, "qcow2", dir, "chain");
        }
    }

    /**
     * Few blocks of the file hold data next to the clusters in use (large clusters, partly
     * written by subclusters; or preallocation=metadata), so QEMU takes the image for a
     * metadata-preallocated one and reports the file's holes inside data clusters as zeros
     * that are data: vmsnap's map says the same.
     */
    @Test
    void holesOfTheFileInsideDataClustersAreZeros() throws IOException {
        Path big = dir.resolve("big.qcow2");
        QemuImg.create(big, "qcow2", 9 * MIB, "extended_l2=on", "cluster_size=2M", "refcount_bits=64");
        // 64 KiB subclusters: the write fills subcluster 1 up to 100 KiB, QEMU zeroes its tail as a hole.
        QemuIo.run(big, "qcow2", "write -P 0x21 64k 64k", "write -z 128k 1M", "write -P 0x23 8M 100k");
        Path prealloc = dir.resolve("prealloc.qcow2");
        QemuImg.create(prealloc, "qcow2", MIB, "preallocation=metadata");
        QemuIo.run(prealloc, "qcow2", "write -P 0x24 0 4k");
        Path ours = dir.resolve("ours-prealloc.qcow2");
        Qcow2Image.create(ours, Qcow2CreateOptions.ofSize(MIB).withPreallocation("metadata")).close();
        for (Path image : List.of(big, prealloc, ours)) {
            boolean zeroData = false;
            for (JsonNode e : QemuImg.mapJson(image)) {
                zeroData |= e.get("zero").asBoolean() && e.get("data").asBoolean();
            }
            assertThat(zeroData).as("%s: qemu-img map has zero data", image.getFileName()).isTrue();
            Qcow2ReadDifferentialIT.sameMap(image, "qcow2", "holes in data clusters");
            Qcow2ReadDifferentialIT.sameBytes(image, "qcow2", dir, "holes in data clusters");
        }
    }

    /** One seeded run of one combination. */
    private final class Scenario {
        private final Combination c;
        private final SeededRun.Context run;
        private final Random r;
        private final int cluster;
        private final int subcluster;

        Scenario(Combination c, SeededRun.Context run) {
            this.c = c;
            this.run = run;
            this.r = run.random();
            this.cluster = c.clusterBytes();
            this.subcluster = cluster / 32;
        }

        void play() throws Exception {
            long size = size();
            Path top = dir.resolve("top.qcow2");
            List<String> create = new ArrayList<>(List.of("create", "-q", "-f", "qcow2", "-o",
                    "extended_l2=on,cluster_size=" + cluster));
            if (c.backing() != Backing.NONE) {
                // Half the time the backing file is shorter: past its end, unallocated reads zeros of this layer.
                long backingSize = r.nextBoolean() ? size : size - cluster - 512L * r.nextInt(cluster / 512);
                Path backing = backing(backingSize);
                create.addAll(List.of("-b", backing.getFileName().toString(), "-F",
                        c.backing() == Backing.RAW ? "raw" : "qcow2"));
            }
            create.addAll(List.of(top.toString(), Long.toString(size)));
            run.log("qemu-img %s", create);
            QemuImg.run(create);
            compressSomeClusters(top, size);
            String snapshot = null;
            subclusterWrites(top, size, 8);
            if (r.nextBoolean()) {
                snapshot = "snap" + r.nextInt(100);
                run.log("qemu-img snapshot -c %s top.qcow2", snapshot);
                QemuImg.snapshotCreate(top, snapshot);
                subclusterWrites(top, size, 6);
            }

            Qcow2ReadDifferentialIT.sameBytes(top, "qcow2", dir, c.toString());
            Qcow2ReadDifferentialIT.sameMap(top, "qcow2", c.toString());
            sameCheck(top, c.toString());
            sameInfo(top);
            if (snapshot != null) {
                sameSnapshot(top, snapshot);
            }

            // The image as the backing file of a standard overlay.
            Path over = dir.resolve("over.qcow2");
            run.log("over.qcow2: qemu-img create -b top.qcow2 -F qcow2");
            QemuImg.createOverlay(over, top, "qcow2", "cluster_size=" + (cluster == 2 * MIB ? 64 * KIB : cluster));
            QemuIo.run(over, "qcow2", String.format(Locale.ROOT, "write -P 0x7e %d %d", subcluster, 3L * subcluster),
                    String.format(Locale.ROOT, "write -z %d %d", cluster, cluster / 2));
            Qcow2ReadDifferentialIT.sameBytes(over, "qcow2", dir, c + " as a backing file");
            Qcow2ReadDifferentialIT.sameMap(over, "qcow2", c + " as a backing file");
        }

        private long size() {
            long clusters = switch (cluster) {
                case 16 * KIB -> 48;
                case 64 * KIB -> 20;
                default -> 5;
            };
            long tail = r.nextBoolean() ? 512L * (1 + r.nextInt(cluster / 512 - 1)) : 0;
            return clusters * cluster + tail;
        }

        /** The backing file, filled with patterns (and for qcow2, zeros and holes). */
        private Path backing(long backingSize) {
            String format = c.backing() == Backing.RAW ? "raw" : "qcow2";
            Path base = dir.resolve("base." + (c.backing() == Backing.RAW ? "raw" : "qcow2"));
            List<String> options = new ArrayList<>();
            if (c.backing() == Backing.EXTENDED_L2) {
                options.add("extended_l2=on");
                options.add("cluster_size=" + cluster);
            }
            run.log("%s: qemu-img create -f %s %s %d", base.getFileName(), format, options, backingSize);
            QemuImg.create(base, format, backingSize, options.toArray(String[]::new));
            List<String> commands = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                long off = 512L * r.nextInt((int) (backingSize / 512));
                long len = Math.min(backingSize - off, 512L * (1 + r.nextInt(2 * cluster / 512)));
                commands.add(String.format(Locale.ROOT, "write -P 0x%02x %d %d", 1 + r.nextInt(255), off, len));
            }
            run.log("qemu-io %s: %s", base.getFileName(), commands);
            QemuIo.run(base, format, commands);
            if (c.backing() != Backing.RAW) {
                subclusterWrites(base, backingSize, 4);
            }
            return base;
        }

        /**
         * {@code write -c} of one or two whole clusters, first thing on a fresh image (QEMU
         * 7.2 writes compressed clusters only where nothing is allocated yet).
         */
        private void compressSomeClusters(Path image, long size) {
            long clusters = size / cluster;
            List<String> commands = new ArrayList<>();
            long first = r.nextLong(clusters);
            commands.add(String.format(Locale.ROOT, "write -c -P 0x%02x %d %d", 1 + r.nextInt(255), first * cluster,
                    cluster));
            long second = r.nextLong(clusters);
            if (second != first) {
                commands.add(String.format(Locale.ROOT, "write -c -P 0x%02x %d %d", 1 + r.nextInt(255),
                        second * cluster, cluster));
            }
            run.log("qemu-io %s: %s", image.getFileName(), commands);
            QemuIo.run(image, "qcow2", commands);
        }

        /**
         * {@code count} random qemu-io commands: pattern writes, zero writes (with and without
         * -u) and discards, at offsets and lengths in subclusters, sectors or clusters.
         */
        private void subclusterWrites(Path image, long size, int count) {
            List<String> commands = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                int unit = unit();
                long off = unit * r.nextLong(size / unit);
                long len = Math.min(size - off, (long) unit() * (1 + r.nextInt(4)));
                String pattern = String.format(Locale.ROOT, "0x%02x", 1 + r.nextInt(255));
                commands.add(switch (r.nextInt(6)) {
                    case 0, 1, 2 -> "write -P " + pattern + " " + off + " " + len;
                    case 3 -> "write -z " + off + " " + len;
                    case 4 -> "write -z -u " + off + " " + len;
                    default -> "discard " + off + " " + len;
                });
            }
            run.log("qemu-io %s: %s", image.getFileName(), commands);
            QemuIo.run(image, "qcow2", commands);
        }

        /** Offsets and lengths come in subclusters most of the time, else sectors or clusters. */
        private int unit() {
            return switch (r.nextInt(4)) {
                case 0 -> 512;
                case 1 -> cluster;
                default -> subcluster;
            };
        }

        private void sameInfo(Path image) throws IOException {
            JsonNode theirs = QemuImg.infoJson(image);
            ImageInfo ours = Images.info(image, OpenOptions.readOnlyOpen());
            JsonNode data = theirs.get("format-specific").get("data");
            assertThat(data.get("extended-l2").asBoolean()).isTrue();
            assertThat(ours.qcow2().extendedL2()).as("extended-l2").isTrue();
            assertThat(ours.clusterSizeBytes()).isEqualTo(theirs.get("cluster-size").asInt());
            assertThat(ours.virtualSizeBytes()).isEqualTo(theirs.get("virtual-size").asLong());
            assertThat(ours.qcow2().compat()).isEqualTo(data.get("compat").asText());
            assertThat(ours.qcow2().refcountBits()).isEqualTo(data.get("refcount-bits").asInt());
            assertThat(ours.snapshots()).hasSize(theirs.has("snapshots") ? theirs.get("snapshots").size() : 0);
            assertThat(ours.backingFilename()).isEqualTo(theirs.has("backing-filename")
                    ? theirs.get("backing-filename").asText() : null);
        }

        /** The snapshot's disk reads as {@code qemu-img convert -l}. */
        private void sameSnapshot(Path image, String name) throws IOException {
            Path raw = dir.resolve("snapshot.raw");
            QemuImg.convert(image, "qcow2", raw, "raw", "-l", "snapshot.name=" + name);
            try (Qcow2Image img = Qcow2Image.open(image, OpenOptions.readOnlyOpen());
                 BlockDevice view = img.readSnapshot(name)) {
                sameBytes(view, raw, c + " snapshot " + name);
            }
            Files.delete(raw);
        }
    }

    /** vmsnap's check says what {@code qemu-img check} says: exit code, every count, every line. */
    static void sameCheck(Path image, String what) throws IOException {
        QemuImg.CheckOutcome theirs = QemuImg.check(image);
        CheckResult ours = Qcow2Image.check(image, RepairMode.NONE);
        List<String> findings = theirs.stderr().lines().filter(l -> !l.startsWith("qemu-img: ") && !l.isBlank())
                .toList();
        assertThat(ours.messages()).as("%s [%s]: check findings", image, what).containsExactlyElementsOf(findings);
        assertThat(ours.exitCode()).as("%s [%s]: check exit code", image, what).isEqualTo(theirs.exitCode());
        JsonNode j = theirs.json();
        assertThat(ours.corruptions()).as("corruptions").isEqualTo(j.path("corruptions").asLong());
        assertThat(ours.leaks()).as("leaks").isEqualTo(j.path("leaks").asLong());
        assertThat(ours.checkErrors()).as("check errors").isEqualTo(j.path("check-errors").asLong());
        assertThat(ours.totalClusters()).as("total clusters").isEqualTo(j.path("total-clusters").asLong());
        assertThat(ours.allocatedClusters()).as("allocated clusters").isEqualTo(j.path("allocated-clusters").asLong());
        assertThat(ours.fragmentedClusters()).as("fragmented clusters")
                .isEqualTo(j.path("fragmented-clusters").asLong());
        assertThat(ours.compressedClusters()).as("compressed clusters")
                .isEqualTo(j.path("compressed-clusters").asLong());
        assertThat(ours.imageEndOffsetBytes()).as("image end offset").isEqualTo(j.path("image-end-offset").asLong());
    }

    /** Every byte of {@code device} equals the raw file {@code expected}. */
    static void sameBytes(BlockDevice device, Path expected, String what) throws IOException {
        try (FileChannel raw = FileChannel.open(expected, StandardOpenOption.READ)) {
            assertThat(device.size()).as("size [%s]", what).isEqualTo(raw.size());
            int step = MIB;
            ByteBuffer ours = ByteBuffer.allocate(step);
            ByteBuffer theirs = ByteBuffer.allocate(step);
            for (long at = 0; at < device.size(); at += step) {
                int n = (int) Math.min(step, device.size() - at);
                ours.clear().limit(n);
                theirs.clear().limit(n);
                device.read(at, ours);
                while (theirs.hasRemaining() && raw.read(theirs, at + theirs.position()) > 0) {
                    // positional reads until the step is full
                }
                int mismatch = Arrays.mismatch(ours.array(), 0, n, theirs.array(), 0, n);
                assertThat(mismatch).as("[%s] first differing byte at guest offset 0x%x", what,
                        at + Math.max(mismatch, 0)).isEqualTo(-1);
            }
        }
    }
}
