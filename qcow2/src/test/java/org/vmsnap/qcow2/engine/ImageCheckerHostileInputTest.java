package org.vmsnap.qcow2.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.qcow2.CheckResult;
import org.vmsnap.qcow2.ImageException;
import org.vmsnap.qcow2.RepairMode;

/**
 * Breaks one metadata word at a time, at random (seeded), and checks and repairs the result:
 * every outcome must be a result or a typed {@link ImageException}, never an unchecked
 * exception, a hang, or a file grown without bound; and a repair must leave an image the
 * next check accepts or at least reads without failing.
 */
class ImageCheckerHostileInputTest {

    @TempDir
    Path dir;

    private static final long[] INTERESTING = {
        0, 1, 2, 0x1ff, 0x200, 0x400, 0x401, 0x1400, 0x1401, 0x10000, 1L << 40, 1L << 55, (1L << 56) - 512,
        1L << 62, 1L << 63, (1L << 63) | 0x1000, (1L << 62) | 0x1400, -1L, -512L, Long.MAX_VALUE, 0x7fffffffL,
        0xffffffffL, 0x100000000L
    };

    /** A small image with a snapshot sharing the L2 table, a compressed cluster and a free hole. */
    private static TinyImage base() {
        TinyImage img = TinyImage.create();
        long a = img.data(0, 0xaa);
        long b = img.data(1, 0xbb);
        long snapL1 = img.newCluster(0);
        img.put64(img.at(snapL1), img.at(TinyImage.L2));
        img.l1(0, img.at(TinyImage.L2));
        img.l2(0, img.at(a));
        img.l2(1, img.at(b));
        long comp = img.newCluster(0x5a);
        img.l2(2, TinyImage.COMPRESSED | img.at(comp));
        img.refcount(TinyImage.L2, 2);
        img.refcount(a, 2);
        img.refcount(b, 2);
        img.refcount(comp, 2);
        img.snapshot("1", "s", img.at(snapL1), 1);
        return img;
    }

    @Test
    void randomlyBrokenMetadataGivesResultsOrTypedErrors() throws IOException {
        long seed = Long.getLong("vmsnap.seed", 20240601L);
        Random rnd = new Random(seed);
        TinyImage img = base();
        Path clean = img.writeTo(dir, "clean.qcow2");
        byte[] original = Files.readAllBytes(clean);
        try (FileStoreDouble s = FileStoreDouble.readOnly(clean)) {
            CheckResult r = ImageChecker.check(s, RepairMode.NONE);
            assertThat(r.exitCode()).as("base image is clean: %s", r.messages()).isZero();
        }
        int typed = 0;
        int results = 0;
        int rounds = Integer.getInteger("vmsnap.rounds", 800);
        for (int round = 0; round < rounds; round++) {
            byte[] bytes = original.clone();
            int words = 1 + rnd.nextInt(2);
            StringBuilder what = new StringBuilder();
            for (int w = 0; w < words; w++) {
                int cluster = rnd.nextInt(bytes.length / img.clusterSize);
                int pos = cluster * img.clusterSize + 8 * rnd.nextInt(cluster == 0 ? 16 : 24);
                long value = rnd.nextInt(3) == 0 ? rnd.nextLong()
                        : rnd.nextBoolean() ? INTERESTING[rnd.nextInt(INTERESTING.length)]
                        : ByteBuffer.wrap(bytes).getLong(pos) ^ (1L << rnd.nextInt(64));
                ByteBuffer.wrap(bytes).putLong(pos, value);
                what.append(String.format("[0x%x]=0x%x ", pos, value));
            }
            for (RepairMode mode : RepairMode.values()) {
                Path p = dir.resolve("r" + round + mode + ".qcow2");
                Files.write(p, bytes);
                try (FileStoreDouble s = mode == RepairMode.NONE ? FileStoreDouble.readOnly(p)
                        : FileStoreDouble.readWrite(p)) {
                    ImageChecker.check(s, mode);
                    results++;
                    if (mode == RepairMode.ALL) {
                        // The repaired image must at least be checkable again.
                        try (FileStoreDouble again = FileStoreDouble.readOnly(p)) {
                            ImageChecker.check(again, RepairMode.NONE);
                        }
                    }
                } catch (ImageException e) {
                    typed++;
                } catch (RuntimeException | IOException e) {
                    fail("seed " + seed + " round " + round + " " + mode + " " + what + ": " + e, e);
                }
                assertThat(Files.size(p)).as("seed %d round %d %s %s: file growth", seed, round, mode, what)
                        .isLessThan(bytes.length * 2L + (64L << 20) + img.clusterSize);
                Files.delete(p);
            }
        }
        // Both kinds of outcome happen: the generator reaches the checks and the refusals.
        assertThat(results).isGreaterThan(rounds);
        assertThat(typed).isPositive();
    }
}
