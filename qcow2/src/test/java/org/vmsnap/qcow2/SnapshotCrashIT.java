package org.vmsnap.qcow2;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.vmsnap.qcow2.engine.ImageChecker;
import org.vmsnap.qcow2.io.FaultyBlockStore;
import org.vmsnap.qcow2.io.MemoryBlockStore;
import org.vmsnap.testkit.QemuImg;
import org.vmsnap.testkit.ReferenceDisk;

/**
 * Crash injection: power is lost at every changing operation (write, flush, punch) of a
 * snapshot create, apply and delete, once with only the flushed state surviving and once
 * with a seeded random subset of the unflushed writes too. After the crash the image checks
 * clean, by vmsnap and by {@code qemu-img check} (not even a leak: every operation is one
 * header switch), the snapshot set is the old one or the new one, and the active disk and
 * every snapshot read as in that state.
 */
class SnapshotCrashIT {

    @TempDir
    Path dir;

    private enum Op { CREATE, APPLY, DELETE }

    /** The image before the operation: its store and what each disk reads. */
    private record Start(MemoryBlockStore store, ReferenceDisk active, Map<String, ReferenceDisk> snaps) {
    }

    @ParameterizedTest(name = "{0}, cluster {1}, refcount_bits {2}")
    @CsvSource({"CREATE, 65536, 16", "APPLY, 65536, 16", "DELETE, 65536, 16",
                "CREATE, 512, 64", "APPLY, 512, 64", "DELETE, 512, 64",
                "CREATE, 2097152, 16", "APPLY, 4096, 2", "DELETE, 2097152, 64"})
    void everyCrashPointLeavesTheOldOrTheNewImage(Op op, int cluster, int bits) throws Exception {
        Start start = start(cluster, bits);
        FaultyBlockStore counting = new FaultyBlockStore(MemoryBlockStore.copyOf(start.store()), FaultyBlockStore.NEVER);
        run(op, counting);
        long operations = counting.operations();
        assertThat(operations).as("operations of %s", op).isGreaterThan(2);
        Set<String> verified = new HashSet<>();   // crash images already judged, by checksum
        for (long failAt = 1; failAt <= operations; failAt++) {
            for (Long seed : new Long[] {null, failAt * 7919}) {
                MemoryBlockStore copy = MemoryBlockStore.copyOf(start.store());
                FaultyBlockStore faulty = seed == null ? new FaultyBlockStore(copy, failAt)
                        : new FaultyBlockStore(copy, failAt, seed);
                try {
                    run(op, faulty);
                } catch (IOException expected) {
                    // the simulated power loss
                }
                assertThat(faulty.hasFailed()).isTrue();
                MemoryBlockStore crash = faulty.crashImage();
                if (verified.add(checksum(crash))) {
                    verifyAfterCrash(op, start, crash, "failAt " + failAt + " seed " + seed);
                }
            }
        }
    }

    private static String checksum(MemoryBlockStore store) {
        byte[] bytes = store.toByteArray();
        CRC32C crc = new CRC32C();
        crc.update(bytes);
        return bytes.length + ":" + Long.toHexString(crc.getValue()) + ":" + Arrays.hashCode(bytes);
    }

    private static void run(Op op, FaultyBlockStore store) throws IOException {
        try (Qcow2Image img = Qcow2Image.openStore(store, false, null)) {
            switch (op) {
                case CREATE -> img.createSnapshot("s3");
                case APPLY -> img.applySnapshot("s1");
                case DELETE -> img.deleteSnapshot("s1");
            }
        }
    }

    private void verifyAfterCrash(Op op, Start start, MemoryBlockStore crash, String what) throws IOException {
        CheckResult c = ImageChecker.check(crash, RepairMode.NONE);
        assertThat(c.corruptions() + c.leaks() + c.checkErrors()).as("%s: vmsnap check %s", what, c.messages())
                .isZero();
        Path file = dir.resolve("crash.qcow2");
        Files.write(file, crash.toByteArray());
        QemuImg.CheckOutcome q = QemuImg.check(file);
        assertThat(q.exitCode()).as("%s: qemu-img check %s %s", what, q.json(), q.stderr()).isZero();

        Map<String, ReferenceDisk> before = start.snaps();
        Map<String, ReferenceDisk> after = new LinkedHashMap<>(before);
        ReferenceDisk activeAfter = start.active();
        switch (op) {
            case CREATE -> after.put("s3", start.active());
            case APPLY -> activeAfter = before.get("s1");
            case DELETE -> after.remove("s1");
        }
        try (Qcow2Image img = Qcow2Image.openStore(crash, true, null)) {
            List<String> names = new ArrayList<>();
            img.snapshots().forEach(s -> names.add(s.name()));
            List<String> old = new ArrayList<>(before.keySet());
            List<String> next = new ArrayList<>(after.keySet());
            assertThat(names.equals(old) || names.equals(next)).as("%s: snapshot set %s is %s or %s", what, names,
                    old, next).isTrue();
            Map<String, ReferenceDisk> expected = names.equals(old) ? before : after;
            for (var e : expected.entrySet()) {
                try (BlockDevice v = img.readSnapshot(e.getKey())) {
                    assertThat(e.getValue().firstDifference(v::read)).as("%s: snapshot %s", what, e.getKey())
                            .isEqualTo(-1);
                }
            }
            long oldDiff = img.size() == start.active().size() ? start.active().firstDifference(img::read) : 0;
            long newDiff = img.size() == activeAfter.size() ? activeAfter.firstDifference(img::read) : 0;
            assertThat(oldDiff == -1 || newDiff == -1).as("%s: active disk is the old or the new one", what).isTrue();
        }
    }

    /** An image with data, two snapshots and more data after each (s1 smaller than the disk now). */
    private static Start start(int cluster, int bits) throws IOException {
        MemoryBlockStore store = new MemoryBlockStore(Path.of("crash.qcow2"));
        long size = Math.min(40L * cluster, 4L << 20) + 1024; // 2 MiB clusters: a few, for speed
        org.vmsnap.qcow2.engine.ImageCreator.create(store,
                Qcow2CreateOptions.ofSize(size).withClusterSize(cluster).withRefcountBits(bits));
        ReferenceDisk model = ReferenceDisk.qcow2(size, cluster, 3);
        Map<String, ReferenceDisk> snaps = new LinkedHashMap<>();
        Random r = new Random(cluster + bits);
        try (Qcow2Image img = Qcow2Image.openStore(store, false, null)) {
            write(img, model, r);
            img.createSnapshot("s1");
            snaps.put("s1", model.copy());
            img.resize(size + 4L * cluster);
            model.resize(size + 4L * cluster);
            write(img, model, r);
            img.createSnapshot("s2");
            snaps.put("s2", model.copy());
            write(img, model, r);
            img.discard(0, 3L * cluster);
            model.discard(0, 3L * cluster);
        }
        return new Start(store, model, snaps);
    }

    private static void write(Qcow2Image img, ReferenceDisk model, Random r) throws IOException {
        for (int i = 0; i < 5; i++) {
            long off = r.nextLong(img.size() - 1);
            byte[] d = new byte[(int) Math.min(img.size() - off, 1 + r.nextInt(Math.min(3 * img.clusterSize(), 1 << 20)))];
            r.nextBytes(d);
            img.write(off, ByteBuffer.wrap(d));
            model.write(off, d);
        }
    }
}
