package org.vmsnap.qcow2;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.testkit.QemuImg;
import org.vmsnap.testkit.QemuIo;
import org.vmsnap.testkit.QemuTools;

/**
 * An image QEMU left dirty (lazy refcounts, process killed): a read-write open rebuilds the
 * refcounts first, as QEMU does, and the result is clean for qemu-img with the data intact.
 */
class DirtyImageIT {
    @TempDir
    Path dir;

    @Test
    void readWriteOpenRepairsADirtyImage() throws Exception {
        Path img = dir.resolve("dirty.qcow2");
        QemuImg.create(img, "qcow2", 64L << 20, "lazy_refcounts=on");
        // qemu-io dies by SIGKILL after the write: refcounts were never written, the dirty bit stays.
        QemuTools.Result killed = QemuTools.run(List.of(QemuTools.qemuIo().toString(), "-f", "qcow2",
                "-c", "write -P 0x33 0 1M", "-c", "sigraise 9", img.toString()));
        assertThat(killed.exitCode()).isNotZero();
        assertThat(QemuImg.infoJson(img).get("dirty-flag").asBoolean()).isTrue();
        assertThat(QemuImg.check(img).exitCode()).as("qemu-img sees the stale refcounts").isEqualTo(2);

        try (Qcow2Image image = Qcow2Image.open(img, OpenOptions.readOnlyOpen())) {
            assertThat(image.info().dirtyFlag()).isTrue(); // read-only: reported, left alone
        }
        try (Qcow2Image image = Qcow2Image.open(img, OpenOptions.readWrite())) {
            assertThat(image.info().dirtyFlag()).isFalse();
            image.write(2 << 20, ByteBuffer.wrap(new byte[4096]).put(0, (byte) 1));
        }
        assertThat(QemuImg.check(img).exitCode()).isZero();
        assertThat(QemuImg.infoJson(img).get("dirty-flag").asBoolean()).isFalse();
        QemuIo.verifyPattern(img, "qcow2", 0, 1 << 20, 0x33);
    }
}
