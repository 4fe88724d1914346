package org.vmsnap.qcow2;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.vmsnap.qcow2.MemoryImages.Backing;
import org.vmsnap.qcow2.engine.ImageChecker;
import org.vmsnap.testkit.ReferenceDisk;
import org.vmsnap.testkit.SeededRun;

/**
 * Seeded random sequences of write / write-zeroes / discard / resize / flush / reopen
 * against the reference disk. After every flush the image reads back like the model and
 * checks clean. A failure prints the seed and the operation log (replay with -Dvmsnap.seed=N).
 */
class Qcow2ModelTest {
    private static final int STEPS = 150;

    @Test
    void randomOperationsMatchTheModel() {
        SeededRun.run("qcow2 model", run -> {
            Random r = run.random();
            int cluster = new int[] {512, 4096, 65536}[r.nextInt(3)];
            int refcountBits = new int[] {1, 2, 8, 16, 32, 64}[r.nextInt(6)];
            int version = r.nextInt(4) == 0 ? 2 : 3;
            if (version == 2) {
                refcountBits = 16;
            }
            Backing backing = Backing.values()[r.nextInt(3)];
            long size = ((long) (8 + r.nextInt(64)) * cluster + r.nextInt(4) * 512L);
            run.log("image cluster=%d refcount_bits=%d compat=%s backing=%s size=%d", cluster, refcountBits,
                    version == 2 ? "0.10" : "1.1", backing, size);
            Qcow2CreateOptions o = Qcow2CreateOptions.ofSize(size).withClusterSize(cluster)
                    .withRefcountBits(refcountBits).withCompat(version == 2 ? "0.10" : "1.1");
            MemoryImages.Layered layers = new MemoryImages.Layered(o, backing, size);
            ReferenceDisk base = null;
            if (backing != Backing.NONE) {
                base = backing == Backing.RAW ? ReferenceDisk.raw(size) : ReferenceDisk.qcow2(size, 65536, 3);
                try (BlockDevice b = layers.openBaseForWriting()) {
                    for (int i = 0; i < 6; i++) {
                        long off = r.nextLong(size - 1);
                        byte[] d = random(r, (int) Math.min(size - off, 1 + r.nextInt(3 * cluster)));
                        b.write(off, ByteBuffer.wrap(d));
                        base.write(off, d);
                    }
                }
            }
            ReferenceDisk model = base == null ? ReferenceDisk.qcow2(size, cluster, version)
                    : ReferenceDisk.overlay(base, cluster, version);
            Qcow2Image img = layers.open();
            try {
                for (int step = 0; step < STEPS; step++) {
                    long sz = model.size();
                    int op = r.nextInt(100);
                    if (op < 45) {
                        long off = r.nextLong(sz);
                        int len = (int) Math.min(sz - off, 1 + r.nextInt(4 * cluster));
                        byte[] d = random(r, len);
                        run.log("write %d+%d", off, len);
                        img.write(off, ByteBuffer.wrap(d));
                        model.write(off, d);
                    } else if (op < 60) {
                        long off = r.nextLong(sz);
                        long len = Math.min(sz - off, 1 + r.nextInt(6 * cluster));
                        run.log("write-zeroes %d+%d", off, len);
                        img.writeZeroes(off, len);
                        model.writeZeroes(off, len);
                    } else if (op < 75) {
                        long off = r.nextBoolean() ? r.nextLong(sz) : r.nextLong(sz / cluster) * cluster;
                        long len = Math.min(sz - off, 1 + r.nextInt(6 * cluster));
                        run.log("discard %d+%d", off, len);
                        img.discard(off, len);
                        model.discard(off, len);
                    } else if (op < 80 && (version == 3 || backing == Backing.NONE)) {
                        long grown = sz + 512L * (1 + r.nextInt(3 * cluster / 512 + 1));
                        run.log("resize %d", grown);
                        img.resize(grown);
                        model.resize(grown);
                    } else if (op < 92) {
                        run.log("flush");
                        img.flush();
                        assertThat(model.firstDifference(img::read)).as("first difference after flush").isEqualTo(-1);
                        CheckResult c = ImageChecker.check(layers.topStore(), RepairMode.NONE);
                        assertThat(c.corruptions() + c.leaks()).as("check after flush: %s", c.messages()).isZero();
                    } else {
                        run.log("reopen");
                        img.close();
                        img = layers.open();
                        assertThat(model.firstDifference(img::read)).as("first difference after reopen").isEqualTo(-1);
                    }
                }
                img.flush();
                assertThat(model.firstDifference(img::read)).as("first difference at the end").isEqualTo(-1);
            } finally {
                img.close();
            }
            CheckResult c = ImageChecker.check(layers.topStore(), RepairMode.NONE);
            assertThat(c.corruptions() + c.leaks()).as("final check: %s", c.messages()).isZero();
        });
    }

    private static byte[] random(Random r, int len) {
        byte[] d = new byte[len];
        if (r.nextInt(4) == 0) {
            return d; // zeros written as data: must still read back as zeros
        }
        r.nextBytes(d);
        return d;
    }
}
