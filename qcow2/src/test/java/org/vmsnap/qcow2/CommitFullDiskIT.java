package org.vmsnap.qcow2;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.testkit.QemuImg;
import org.vmsnap.testkit.QemuIo;
import org.vmsnap.testkit.SmallTmpfs;

/**
 * {@link ImageCommit} on a full disk (a small tmpfs, the tests run as root): the space the
 * copy needs is set aside first, so wherever the disk is full the base is left byte for byte
 * as it was (other overlays on it see no half-committed data), or the commit succeeded.
 */
class CommitFullDiskIT {
    @TempDir
    Path tmp;

    @Test
    void aCommitThatMeetsAFullDiskLeavesTheBaseAsItWas() throws Exception {
        Path pristine = Files.createDirectories(tmp.resolve("pristine"));
        Path base = pristine.resolve("base.qcow2");
        QemuImg.create(base, "qcow2", 1 << 20);
        QemuIo.run(base, "qcow2", "write -P 0x11 0 64k", "write -P 0x22 256k 64k");
        QemuImg.createOverlay(pristine.resolve("top.qcow2"), Path.of("base.qcow2"), "qcow2");
        // overwrites the base's first cluster in place, adds clusters and an L2 table beyond
        QemuIo.run(pristine.resolve("top.qcow2"), "qcow2", "write -P 0x44 32k 64k", "write -P 0x66 900k 64k");
        byte[] before = Files.readAllBytes(base);
        try (SmallTmpfs disk = SmallTmpfs.mount(tmp.resolve("small"), "4m")) {
            Path run = disk.root().resolve("run");
            SmallTmpfs.Outcome o = disk.sweep("commit", 8192, 2 << 20, () -> {
                SmallTmpfs.deleteTree(run);
                Files.createDirectories(run);
                Files.copy(base, run.resolve("base.qcow2"));
                Files.copy(pristine.resolve("top.qcow2"), run.resolve("top.qcow2"));
            }, free -> {
                try {
                    ImageCommit.commit(run.resolve("top.qcow2"), "qcow2", null, false, Progress.NONE);
                    return true;
                } catch (IOException e) {
                    assertThat(e).hasMessageContaining("No space left on device");
                    assertThat(Arrays.equals(Files.readAllBytes(run.resolve("base.qcow2")), before))
                            .as("with %d bytes free (%s): base.qcow2 as it was", free, e.getMessage()).isTrue();
                    return false;
                }
            });
            assertThat(QemuImg.check(run.resolve("base.qcow2")).exitCode()).isZero();
            QemuIo.verifyPattern(run.resolve("top.qcow2"), "qcow2", 900 << 10, 64 << 10, 0x66);
            QemuIo.verifyPattern(run.resolve("base.qcow2"), "qcow2", 900 << 10, 64 << 10, 0x66);
            System.out.printf("commit: %d full-disk points, succeeded with %d KiB free%n", o.failures(),
                    o.freeAtSuccess() / 1024);
        }
    }

    /**
     * The space set aside is what the commit can take, not every free cluster of the base: a
     * base with 4 MiB of discarded clusters (holes) takes a small commit on a disk with 512 KiB
     * free.
     */
    @Test
    void freeClustersInsideTheBaseAreNotReserved() throws Exception {
        try (SmallTmpfs disk = SmallTmpfs.mount(tmp.resolve("small2"), "16m")) {
            Path base = disk.root().resolve("base.qcow2");
            QemuImg.create(base, "qcow2", 8 << 20);
            QemuIo.run(base, "qcow2", "write -P 0x11 0 6M", "discard 1M 4M");
            QemuImg.createOverlay(disk.root().resolve("top.qcow2"), Path.of("base.qcow2"), "qcow2");
            QemuIo.run(disk.root().resolve("top.qcow2"), "qcow2", "write -P 0x66 7M 64k");
            disk.fill(512 << 10);
            ImageCommit.commit(disk.root().resolve("top.qcow2"), "qcow2", null, false, Progress.NONE);
            disk.release();
            assertThat(QemuImg.check(base).exitCode()).isZero();
            QemuIo.verifyPattern(base, "qcow2", 7 << 20, 64 << 10, 0x66);
        }
    }
}
