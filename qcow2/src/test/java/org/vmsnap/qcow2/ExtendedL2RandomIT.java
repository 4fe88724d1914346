package org.vmsnap.qcow2;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.testkit.QemuImg;
import org.vmsnap.testkit.QemuIo;
import org.vmsnap.testkit.SeededRun;

/**
 * Seeded random batches of qemu-io writes, zero writes and discards on one image with
 * extended L2 entries (random cluster size from 16 KiB to 2 MiB, with or without a raw
 * backing file that may be shorter); after every batch vmsnap must read every byte as
 * {@code qemu-img convert -O raw} does, and map the image as {@code qemu-img map} does.
 * A failure names the seed and the qemu-io commands that led to it
 * ({@code -Dvmsnap.seed=N} replays it).
 */
class ExtendedL2RandomIT {

    private static final int KIB = 1024;
    private static final int[] CLUSTER_SIZES = {16 * KIB, 32 * KIB, 64 * KIB, 256 * KIB, 2048 * KIB};
    private static final int BATCHES = 12;

    @TempDir
    Path dir;

    @Test
    void everyByteReadsAsQemuConvertAfterEveryBatch() {
        SeededRun.run("random qemu-io batches on an extended L2 image", run -> {
            Random r = run.random();
            int cluster = CLUSTER_SIZES[r.nextInt(CLUSTER_SIZES.length)];
            int subcluster = cluster / 32;
            long size = (long) cluster * (3 + r.nextInt(cluster >= 1 << 20 ? 4 : 30)) + 512L * r.nextInt(cluster / 512);
            Path work = dir.resolve("seed-" + Long.toHexString(run.seed()));
            java.nio.file.Files.createDirectories(work);
            Path image = work.resolve("x.qcow2");
            List<String> options = new ArrayList<>(List.of("extended_l2=on", "cluster_size=" + cluster));
            if (r.nextBoolean()) {
                Path base = work.resolve("base.raw");
                long baseSize = r.nextBoolean() ? size : size / 2;
                run.log("base.raw: %d bytes of 0x5b", baseSize);
                QemuImg.create(base, "raw", baseSize);
                QemuIo.writePattern(base, "raw", 0, baseSize, 0x5b);
                options.add("backing_file=base.raw");
                options.add("backing_fmt=raw");
            }
            run.log("qemu-img create -f qcow2 -o %s x.qcow2 %d", options, size);
            QemuImg.create(image, "qcow2", size, options.toArray(String[]::new));
            for (int batch = 0; batch < BATCHES; batch++) {
                List<String> commands = new ArrayList<>();
                int ops = 1 + r.nextInt(6);
                for (int i = 0; i < ops; i++) {
                    int unit = switch (r.nextInt(5)) {
                        case 0 -> 512;
                        case 1 -> cluster;
                        default -> subcluster;
                    };
                    long off = unit * r.nextLong(size / unit);
                    long len = Math.min(size - off, (long) unit * (1 + r.nextInt(5)));
                    commands.add(switch (r.nextInt(7)) {
                        case 0, 1, 2 -> String.format(Locale.ROOT, "write -P 0x%02x %d %d", 1 + r.nextInt(255), off, len);
                        case 3 -> "write -z " + off + " " + len;
                        case 4 -> "write -z -u " + off + " " + len;
                        default -> "discard " + off + " " + len;
                    });
                }
                run.log("batch %d, qemu-io: %s", batch, commands);
                QemuIo.run(image, "qcow2", commands);
                String what = "seed " + run.seed() + " batch " + batch;
                Qcow2ReadDifferentialIT.sameBytes(image, "qcow2", work, what);
                Qcow2ReadDifferentialIT.sameMap(image, "qcow2", what);
            }
            ExtendedL2ReadIT.sameCheck(image, "seed " + run.seed());
        });
    }
}
