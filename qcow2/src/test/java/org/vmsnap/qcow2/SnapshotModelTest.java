package org.vmsnap.qcow2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.vmsnap.qcow2.MemoryImages.Backing;
import org.vmsnap.qcow2.engine.ImageChecker;
import org.vmsnap.testkit.ReferenceDisk;
import org.vmsnap.testkit.SeededRun;

/**
 * Seeded random sequences of write / write-zeroes / discard / resize / snapshot create /
 * apply / delete / reopen against a reference model that keeps a copy of every snapshot.
 * After every snapshot operation and flush, the active disk and every snapshot read back
 * like the model and the image checks clean (no leaks either: every snapshot operation is
 * one header switch that leaves nothing behind). Replay with -Dvmsnap.seed=N.
 */
class SnapshotModelTest {
    private static final int STEPS = 120;

    @Test
    void randomOperationsWithSnapshotsMatchTheModel() {
        SeededRun.run("snapshot model", run -> {
            Random r = run.random();
            int cluster = new int[] {512, 4096, 65536}[r.nextInt(3)];
            int refcountBits = new int[] {1, 2, 16, 64}[r.nextInt(4)];
            int version = r.nextInt(4) == 0 ? 2 : 3;
            if (version == 2) {
                refcountBits = 16;
            }
            Backing backing = Backing.values()[r.nextInt(3)];
            long size = ((long) (8 + r.nextInt(48)) * cluster + r.nextInt(4) * 512L);
            run.log("image cluster=%d refcount_bits=%d compat=%s backing=%s size=%d", cluster, refcountBits,
                    version == 2 ? "0.10" : "1.1", backing, size);
            Qcow2CreateOptions o = Qcow2CreateOptions.ofSize(size).withClusterSize(cluster)
                    .withRefcountBits(refcountBits).withCompat(version == 2 ? "0.10" : "1.1");
            MemoryImages.Layered layers = new MemoryImages.Layered(o, backing, size);
            ReferenceDisk base = null;
            if (backing != Backing.NONE) {
                base = backing == Backing.RAW ? ReferenceDisk.raw(size) : ReferenceDisk.qcow2(size, 65536, 3);
                try (BlockDevice b = layers.openBaseForWriting()) {
                    for (int i = 0; i < 4; i++) {
                        long off = r.nextLong(size - 1);
                        byte[] d = random(r, (int) Math.min(size - off, 1 + r.nextInt(3 * cluster)));
                        b.write(off, ByteBuffer.wrap(d));
                        base.write(off, d);
                    }
                }
            }
            ReferenceDisk model = base == null ? ReferenceDisk.qcow2(size, cluster, version)
                    : ReferenceDisk.overlay(base, cluster, version);
            Map<String, ReferenceDisk> snaps = new LinkedHashMap<>();
            int named = 0;
            Qcow2Image img = layers.open();
            try {
                for (int step = 0; step < STEPS; step++) {
                    long sz = model.size();
                    int op = r.nextInt(100);
                    if (op < 35) {
                        long off = r.nextLong(sz);
                        int len = (int) Math.min(sz - off, 1 + r.nextInt(4 * cluster));
                        byte[] d = random(r, len);
                        run.log("write %d+%d", off, len);
                        img.write(off, ByteBuffer.wrap(d));
                        model.write(off, d);
                    } else if (op < 42) {
                        long off = r.nextLong(sz);
                        long len = Math.min(sz - off, 1 + r.nextInt(6 * cluster));
                        run.log("write-zeroes %d+%d", off, len);
                        img.writeZeroes(off, len);
                        model.writeZeroes(off, len);
                    } else if (op < 46) {
                        long off = r.nextBoolean() ? r.nextLong(sz) : r.nextLong(sz / cluster) * cluster;
                        long len = Math.min(sz - off, 1 + r.nextInt(6 * cluster));
                        run.log("discard %d+%d", off, len);
                        img.discard(off, len);
                        model.discard(off, len);
                    } else if (op < 50 && sz >= cluster) {
                        // A whole cluster compressed: fragments share host clusters, each counted per path.
                        long off = r.nextLong(sz / cluster) * cluster;
                        byte[] d = new byte[cluster];
                        Arrays.fill(d, 0, r.nextInt(cluster), (byte) r.nextInt(4));
                        run.log("write-compressed %d", off);
                        img.writeCompressed(off, d);
                        model.write(off, d);
                    } else if (op < 52 && (version == 3 || backing == Backing.NONE)) {
                        long grown = sz + 512L * (1 + r.nextInt(3 * cluster / 512 + 1));
                        run.log("resize %d", grown);
                        img.resize(grown);
                        model.resize(grown);
                    } else if (op < 68) {
                        String name = "s" + (named++);
                        run.log("snapshot create %s", name);
                        List<SnapshotInfo> before = img.snapshots();
                        try {
                            SnapshotInfo info = img.createSnapshot(name);
                            assertThat(info.name()).isEqualTo(name);
                            assertThat(info.diskSizeBytes()).isEqualTo(model.size());
                            snaps.put(name, model.copy());
                        } catch (UnsupportedFeatureException e) {
                            // A shared cluster's refcount would pass the width's maximum (1-bit:
                            // any sharing, as QEMU refuses; 2-bit: a fourth reference). Nothing changes.
                            assertThat(refcountBits).as("refused create: %s", e.getMessage()).isLessThanOrEqualTo(2);
                            assertThat(img.snapshots()).isEqualTo(before);
                        }
                        verify(run, img, layers, model, snaps);
                    } else if (op < 76 && !snaps.isEmpty()) {
                        String name = pick(r, snaps);
                        boolean byId = r.nextBoolean();
                        String key = byId ? idOf(img, name) : name;
                        run.log("snapshot apply %s (%s)", name, key);
                        img.applySnapshot(key);
                        model = snaps.get(name).copy();
                        verify(run, img, layers, model, snaps);
                    } else if (op < 84 && !snaps.isEmpty()) {
                        String name = pick(r, snaps);
                        run.log("snapshot delete %s", name);
                        img.deleteSnapshot(name);
                        snaps.remove(name);
                        verify(run, img, layers, model, snaps);
                    } else if (op < 86) {
                        String missing = "missing" + r.nextInt(3);
                        run.log("apply/delete of missing %s", missing);
                        Qcow2Image current = img;
                        assertThatThrownBy(() -> current.applySnapshot(missing))
                                .isInstanceOf(SnapshotNotFoundException.class).hasMessageContaining(missing);
                        assertThatThrownBy(() -> current.deleteSnapshot(missing))
                                .isInstanceOf(SnapshotNotFoundException.class);
                        if (!snaps.isEmpty()) {
                            String dup = pick(r, snaps);
                            assertThatThrownBy(() -> current.createSnapshot(dup))
                                    .isInstanceOf(SnapshotExistsException.class);
                        }
                    } else if (op < 94) {
                        run.log("flush");
                        img.flush();
                        verify(run, img, layers, model, snaps);
                    } else {
                        run.log("reopen");
                        img.close();
                        img = layers.open();
                        verify(run, img, layers, model, snaps);
                    }
                }
            } finally {
                img.close();
            }
            img = layers.open(true);
            try {
                verify(run, img, layers, model, snaps);
            } finally {
                img.close();
            }
        });
    }

    /** Active disk and every snapshot read like the model; the list is the model's; check is clean. */
    private static void verify(SeededRun.Context run, Qcow2Image img, MemoryImages.Layered layers,
                               ReferenceDisk model, Map<String, ReferenceDisk> snaps) throws Exception {
        assertThat(img.size()).isEqualTo(model.size());
        assertThat(model.firstDifference(img::read)).as("active disk, first difference").isEqualTo(-1);
        List<String> names = new ArrayList<>();
        for (SnapshotInfo s : img.snapshots()) {
            names.add(s.name());
        }
        assertThat(names).containsExactlyElementsOf(snaps.keySet());
        for (var e : snaps.entrySet()) {
            try (BlockDevice view = img.readSnapshot(e.getKey())) {
                assertThat(view.size()).isEqualTo(e.getValue().size());
                assertThat(e.getValue().firstDifference(view::read)).as("snapshot %s, first difference", e.getKey())
                        .isEqualTo(-1);
            }
        }
        if (!img.isReadOnly()) {
            img.flush();
        }
        CheckResult c = ImageChecker.check(layers.topStore(), RepairMode.NONE);
        assertThat(c.corruptions() + c.leaks() + c.checkErrors()).as("check: %s", c.messages()).isZero();
        run.log("verified %d snapshots", snaps.size());
    }

    private static String idOf(Qcow2Image img, String name) {
        return img.snapshots().stream().filter(s -> s.name().equals(name)).findFirst().orElseThrow().id();
    }

    private static String pick(Random r, Map<String, ReferenceDisk> snaps) {
        List<String> names = new ArrayList<>(snaps.keySet());
        return names.get(r.nextInt(names.size()));
    }

    private static byte[] random(Random r, int len) {
        byte[] d = new byte[len];
        if (r.nextInt(4) == 0) {
            return d;
        }
        r.nextBytes(d);
        return d;
    }
}
