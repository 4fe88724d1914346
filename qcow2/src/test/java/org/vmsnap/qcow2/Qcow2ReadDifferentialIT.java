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
 * QEMU 7.2 writes, vmsnap reads. For every cluster size x refcount width x compat, qemu-img
 * and qemu-io build:
 * <ul>
 *   <li>a three-deep chain {@code sub/top.qcow2 -> ../mid.qcow2 -> base.raw} (relative
 *       backing names), each layer written with {@code write -P}, {@code write -z} (with and
 *       without {@code -u}) and {@code discard};</li>
 *   <li>{@code comp.qcow2}, made by {@code qemu-img convert -c} (zlib) of that chain, then
 *       partly overwritten, zeroed, discarded and written with {@code write -c}.</li>
 * </ul>
 * For each image (and the raw base), vmsnap ({@link Images#open}, format probed, backing chain
 * opened) must read exactly the bytes of {@code qemu-img convert -O raw}, and its
 * {@link BlockDevice#blockStatus} runs, merged like qemu-img merges them, must equal
 * {@code qemu-img map --output=json} entry by entry (start, length, depth, present, zero,
 * data, offset).
 */
class Qcow2ReadDifferentialIT {

    private static final int KIB = 1024;
    private static final int MIB = 1024 * KIB;
    private static final int[] CLUSTER_SIZES = {512, 4 * KIB, 64 * KIB, 2 * MIB};
    private static final int[] REFCOUNT_BITS = {1, 16, 64};
    private static final int READ_STEP = MIB;

    /** One combination; {@code index} picks the seed. */
    record Combination(int index, int clusterBytes, int refcountBits, String compat) {
        String createOptions() {
            return "cluster_size=" + clusterBytes + ",refcount_bits=" + refcountBits + ",compat=" + compat;
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "cluster_size=%d refcount_bits=%d compat=%s",
                    clusterBytes, refcountBits, compat);
        }
    }

    static Stream<Combination> combinations() {
        List<Combination> all = new ArrayList<>();
        for (int cluster : CLUSTER_SIZES) {
            for (int bits : REFCOUNT_BITS) {
                all.add(new Combination(all.size(), cluster, bits, "1.1"));
            }
            all.add(new Combination(all.size(), cluster, 16, "0.10"));
        }
        return all.stream();
    }

    /** One entry of {@code qemu-img map --output=json}; {@code offset} null when qemu-img prints none. */
    record MapEntry(long start, long length, int depth, boolean present, boolean zero, boolean data, Long offset) {
        static MapEntry of(JsonNode n) {
            return new MapEntry(n.get("start").asLong(), n.get("length").asLong(), n.get("depth").asInt(),
                    n.get("present").asBoolean(), n.get("zero").asBoolean(), n.get("data").asBoolean(),
                    n.has("offset") ? n.get("offset").asLong() : null);
        }

        /** qemu-img's merge rule: same status and, where there are offsets, contiguous ones. */
        boolean continuedBy(MapEntry next) {
            if (depth != next.depth || present != next.present || zero != next.zero || data != next.data
                    || (offset == null) != (next.offset == null)) {
                return false;
            }
            return offset == null || offset + length == next.offset;
        }

        MapEntry extendedBy(long more) {
            return new MapEntry(start, length + more, depth, present, zero, data, offset);
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "{ \"start\": %d, \"length\": %d, \"depth\": %d, \"present\": %b, "
                    + "\"zero\": %b, \"data\": %b%s}", start, length, depth, present, zero, data,
                    offset == null ? "" : ", \"offset\": " + offset);
        }
    }

    @TempDir
    Path dir;

    @ParameterizedTest(name = "{0}")
    @MethodSource("combinations")
    void vmsnapReadsWhatQemuWrote(Combination c) {
        List<Long> seeds = SeededRun.seeds();
        long seed = seeds.get(c.index() % seeds.size());
        SeededRun.run("qemu writes, vmsnap reads [" + c + "]", seed, run -> new Scenario(c, run).play());
    }

    /**
     * Unallocated ranges past the end of a backing file read as zeros; qemu-img map reports
     * them at the depth of the layer whose backing file is too short (depth 0 for the top),
     * not one level further down.
     */
    @Test
    void overlaysLargerThanTheirBacking() throws IOException {
        Path base = dir.resolve("base.qcow2");
        QemuImg.create(base, "qcow2", MIB);
        QemuIo.writePattern(base, "qcow2", 0, 64 * KIB, 0x11);
        Path mid = dir.resolve("mid.qcow2");
        QemuImg.run(List.of("create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", mid.toString(), "2M"));
        Path top = dir.resolve("top.qcow2");
        QemuImg.run(List.of("create", "-q", "-f", "qcow2", "-b", "mid.qcow2", "-F", "qcow2", top.toString(), "3M"));
        Path overRaw = dir.resolve("over-raw.qcow2");
        Path raw = dir.resolve("base.raw");
        QemuImg.create(raw, "raw", MIB);
        QemuImg.run(List.of("create", "-q", "-f", "qcow2", "-b", "base.raw", "-F", "raw", overRaw.toString(), "2M"));
        for (Path image : List.of(mid, top, overRaw)) {
            sameMap(image, "qcow2", "overlay larger than its backing");
            sameBytes(image, "qcow2", dir, "overlay larger than its backing");
        }
    }

    /**
     * {@code qemu-img snapshot -c} writes the snapshot table last, and the file ends right
     * after the last entry's name: the padding of that entry to 8 bytes is not in the file
     * (a 1 MiB image with one snapshot "snap" is 327749 bytes). vmsnap must list the
     * snapshots as {@code qemu-img info} does and read the image.
     */
    @Test
    void snapshotListOfQemuMadeSnapshots() throws IOException {
        Path alone = dir.resolve("alone.qcow2");
        QemuImg.create(alone, "qcow2", MIB);
        QemuImg.snapshotCreate(alone, "snap");
        Path busy = dir.resolve("busy.qcow2");
        QemuImg.create(busy, "qcow2", 4 * MIB, "compat=0.10", "cluster_size=4096");
        QemuIo.writePattern(busy, "qcow2", 0, 100 * KIB, 0x21);
        QemuImg.snapshotCreate(busy, "first");
        QemuIo.writePattern(busy, "qcow2", 64 * KIB, 8 * KIB, 0x22);
        QemuImg.snapshotCreate(busy, "a longer name, with an accent: é");
        QemuImg.snapshotCreate(busy, "third");
        QemuImg.snapshotDelete(busy, "first");
        for (Path image : List.of(alone, busy)) {
            JsonNode theirs = QemuImg.snapshotList(image);
            List<SnapshotInfo> ours;
            try (Qcow2Image img = Qcow2Image.open(image, OpenOptions.readOnlyOpen())) {
                ours = img.info().snapshots();
            }
            assertThat(ours).as("%s: number of snapshots", image).hasSize(theirs.size());
            for (int i = 0; i < ours.size(); i++) {
                SnapshotInfo o = ours.get(i);
                JsonNode t = theirs.get(i);
                String w = image.getFileName() + " snapshot #" + i + " field %s";
                assertThat(o.id()).as(w, "id").isEqualTo(t.get("id").asText());
                assertThat(o.name()).as(w, "name").isEqualTo(t.get("name").asText());
                assertThat(o.vmStateSize()).as(w, "vm-state-size").isEqualTo(t.get("vm-state-size").asLong());
                assertThat(o.dateSec()).as(w, "date-sec").isEqualTo(t.get("date-sec").asLong());
                assertThat(o.dateNsec()).as(w, "date-nsec").isEqualTo(t.get("date-nsec").asInt());
                assertThat(o.vmClockNsec()).as(w, "vm-clock-sec * 1e9 + vm-clock-nsec")
                        .isEqualTo(t.get("vm-clock-sec").asLong() * 1_000_000_000L + t.get("vm-clock-nsec").asLong());
                assertThat(o.icount()).as(w, "icount").isEqualTo(t.has("icount") ? t.get("icount").asLong() : -1);
            }
            sameBytes(image, "qcow2", dir, "qemu-made snapshots");
            sameMap(image, "qcow2", "qemu-made snapshots");
        }
    }

    /** One seeded run of one combination. */
    private final class Scenario {
        private final Combination c;
        private final SeededRun.Context run;
        private final Random r;
        private final int cluster;

        Scenario(Combination c, SeededRun.Context run) {
            this.c = c;
            this.run = run;
            this.r = run.random();
            this.cluster = c.clusterBytes();
        }

        void play() throws IOException {
            long size = size();
            Path chain = dir.resolve("chain");
            Files.createDirectories(chain.resolve("sub"));
            Path base = chain.resolve("base.raw");
            Path mid = chain.resolve("mid.qcow2");
            Path top = chain.resolve("sub/top.qcow2");
            Path comp = dir.resolve("comp.qcow2");

            run.log("base.raw: qemu-img create -f raw %d", size);
            QemuImg.create(base, "raw", size);
            qemuIo(base, "raw", size, 5);

            run.log("mid.qcow2: qemu-img create -o %s -b base.raw -F raw", c.createOptions());
            QemuImg.run(List.of("create", "-q", "-f", "qcow2", "-o", c.createOptions(), "-b", "base.raw", "-F", "raw",
                    mid.toString()));
            qemuIo(mid, "qcow2", size, 10);

            // Half the time the top is larger than its backing, as after a resize of the overlay.
            long topSize = r.nextBoolean() ? size : size + cluster * (1L + r.nextInt(3)) + 512L * r.nextInt(2);
            run.log("sub/top.qcow2: qemu-img create -o %s -b ../mid.qcow2 -F qcow2 %d", c.createOptions(), topSize);
            QemuImg.run(List.of("create", "-q", "-f", "qcow2", "-o", c.createOptions(), "-b", "../mid.qcow2",
                    "-F", "qcow2", top.toString(), Long.toString(topSize)));
            qemuIo(top, "qcow2", topSize, 10);

            run.log("comp.qcow2: qemu-img convert -c -O qcow2 -o %s sub/top.qcow2", c.createOptions());
            QemuImg.convert(top, "qcow2", comp, "qcow2", "-c", "-o", c.createOptions());
            compressUnallocated(comp);
            qemuIo(comp, "qcow2", topSize, 8);

            for (Path image : List.of(base, mid, top, comp)) {
                String format = image.equals(base) ? "raw" : "qcow2";
                sameBytes(image, format, dir, c.toString());
                sameMap(image, format, c.toString());
            }
        }

        private long size() {
            long clusters = switch (cluster) {
                case 512 -> 2048;
                case 4 * KIB -> 512;
                case 64 * KIB -> 64;
                default -> 6;
            };
            long tail = cluster > 512 && r.nextBoolean() ? 512L * (1 + r.nextInt(cluster / 512 - 1)) : 0;
            return clusters * cluster + tail;
        }

        /**
         * {@code count} random qemu-io commands on {@code image}: pattern writes, and for
         * qcow2 also zero writes (with and without -u) and discards.
         */
        private void qemuIo(Path image, String format, long size, int count) {
            List<String> commands = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                long off = r.nextBoolean() ? r.nextLong(size / cluster) * cluster : r.nextLong(size / 512) * 512;
                long len = Math.min(size - off, 512L * (1 + r.nextInt(Math.min(3 * cluster, 768 * KIB) / 512)));
                int kind = format.equals("raw") ? 0 : r.nextInt(5);
                String pattern = String.format(Locale.ROOT, "0x%02x", 1 + r.nextInt(255));
                commands.add(switch (kind) {
                    case 0, 1 -> "write -P " + pattern + " " + off + " " + len;
                    case 2 -> "write -z " + off + " " + len;
                    case 3 -> "write -z -u " + off + " " + len;
                    default -> "discard " + off + " " + len;
                });
            }
            run.log("qemu-io %s: %s", image.getFileName(), commands);
            QemuIo.run(image, format, commands);
        }

        /**
         * {@code write -c} of up to three whole clusters that {@code qemu-img map} shows
         * unallocated: QEMU 7.2 refuses compressed writes to allocated clusters (EIO).
         */
        private void compressUnallocated(Path image) {
            List<Long> free = new ArrayList<>();
            for (JsonNode n : QemuImg.mapJson(image)) {
                MapEntry e = MapEntry.of(n);
                if (!e.present()) {
                    for (long at = Math.ceilDiv(e.start(), cluster) * cluster; at + cluster <= e.start() + e.length();
                            at += cluster) {
                        free.add(at);
                    }
                }
            }
            List<String> commands = new ArrayList<>();
            for (int i = 0; i < 3 && !free.isEmpty(); i++) {
                long at = free.remove(r.nextInt(free.size()));
                commands.add(String.format(Locale.ROOT, "write -c -P 0x%02x %d %d", 1 + r.nextInt(255), at, cluster));
            }
            if (!commands.isEmpty()) {
                run.log("qemu-io %s: %s", image.getFileName(), commands);
                QemuIo.run(image, "qcow2", commands);
            }
        }
    }

    /** vmsnap reads every byte of the guest view exactly as {@code qemu-img convert -O raw}. */
    static void sameBytes(Path image, String format, Path scratch, String what) throws IOException {
        Path raw = scratch.resolve(image.getFileName() + ".converted.raw");
        QemuImg.convert(image, format, raw, "raw");
        try (BlockDevice device = Images.open(image, OpenOptions.readOnlyOpen());
             FileChannel expected = FileChannel.open(raw, StandardOpenOption.READ)) {
            assertThat(device.format()).as("probed format of %s [%s]", image, what).isEqualTo(format);
            assertThat(device.size()).as("virtual size of %s [%s]", image, what).isEqualTo(expected.size());
            ByteBuffer ours = ByteBuffer.allocate(READ_STEP);
            ByteBuffer theirs = ByteBuffer.allocate(READ_STEP);
            for (long at = 0; at < device.size(); at += READ_STEP) {
                int n = (int) Math.min(READ_STEP, device.size() - at);
                ours.clear().limit(n);
                theirs.clear().limit(n);
                Arrays.fill(ours.array(), (byte) 0x5a);
                device.read(at, ours);
                while (theirs.hasRemaining() && expected.read(theirs, at + theirs.position()) > 0) {
                    // positional reads until the step is full
                }
                int mismatch = Arrays.mismatch(ours.array(), 0, n, theirs.array(), 0, n);
                if (mismatch >= 0) {
                    throw new AssertionError(String.format(Locale.ROOT,
                            "%s [%s]: vmsnap reads 0x%02x at guest offset 0x%x (%d), qemu-img convert -O raw has 0x%02x",
                            image, what, ours.array()[mismatch], at + mismatch, at + mismatch,
                            theirs.array()[mismatch]));
                }
            }
        }
        Files.delete(raw);
    }

    /** vmsnap's block status, merged like qemu-img map merges, equals {@code qemu-img map --output=json}. */
    static void sameMap(Path image, String format, String what) throws IOException {
        List<MapEntry> theirs = new ArrayList<>();
        for (JsonNode n : QemuImg.mapJson(image, format)) {
            theirs.add(MapEntry.of(n));
        }
        List<MapEntry> ours = new ArrayList<>();
        try (BlockDevice device = Images.open(image, OpenOptions.readOnlyOpen())) {
            long end = device.size();
            for (long at = 0; at < end; ) {
                BlockStatus s = device.blockStatus(at, end - at);
                long n = Math.min(s.lengthBytes(), end - at);
                MapEntry e = new MapEntry(at, n, s.depth(), s.present(), s.zero(), s.data(),
                        s.hostOffset() >= 0 ? s.hostOffset() : null);
                MapEntry last = ours.isEmpty() ? null : ours.getLast();
                if (last != null && last.continuedBy(e)) {
                    ours.set(ours.size() - 1, last.extendedBy(n));
                } else {
                    ours.add(e);
                }
                at += n;
            }
        }
        for (int i = 0; i < Math.min(ours.size(), theirs.size()); i++) {
            if (!ours.get(i).equals(theirs.get(i))) {
                throw new AssertionError(String.format(Locale.ROOT,
                        "%s [%s]: map entry #%d differs at guest offset 0x%x%n  qemu-img map: %s%n  vmsnap:       %s",
                        image, what, i, Math.min(ours.get(i).start(), theirs.get(i).start()),
                        theirs.get(i), ours.get(i)));
            }
        }
        assertThat(ours).as("%s [%s]: map entries (qemu-img map --output=json)", image, what).isEqualTo(theirs);
    }
}
