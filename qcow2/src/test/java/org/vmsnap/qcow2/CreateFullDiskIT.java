package org.vmsnap.qcow2;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.testkit.SmallTmpfs;

/**
 * {@link Qcow2Image#create} on a full disk (a small tmpfs, the tests run as root): wherever
 * the space runs out, also during preallocation=metadata after the file was made, the new
 * file is either finished or not there at all.
 */
class CreateFullDiskIT {
    @TempDir
    Path tmp;

    @Test
    void aCreateThatMeetsAFullDiskLeavesNoFile() throws Exception {
        try (SmallTmpfs disk = SmallTmpfs.mount(tmp.resolve("small"), "4m")) {
            Path file = disk.root().resolve("new.qcow2");
            Qcow2CreateOptions options = Qcow2CreateOptions.ofSize(64L << 20).withPreallocation("metadata");
            SmallTmpfs.Outcome o = disk.sweep("create preallocation=metadata", 4096, 1 << 20,
                    () -> Files.deleteIfExists(file), free -> {
                        try (Qcow2Image image = Qcow2Image.create(file, options)) {
                            return true;
                        } catch (IOException e) {
                            assertThat(e).hasMessageContaining("No space left on device");
                            assertThat(file).as("with %d bytes free: %s", free, e.getMessage()).doesNotExist();
                            return false;
                        }
                    });
            disk.release();
            assertThat(Qcow2Image.check(file, RepairMode.NONE).exitCode()).isZero();
            System.out.printf("create preallocation=metadata: %d full-disk points, succeeded with %d KiB free%n",
                    o.failures(), o.freeAtSuccess() / 1024);
        }
    }
}
