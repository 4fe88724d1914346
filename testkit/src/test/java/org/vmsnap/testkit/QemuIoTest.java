package org.vmsnap.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class QemuIoTest {

    /** qemu-io's own per-request limit ("length cannot exceed 2147483136 without -n"). */
    private static final long QEMU_IO_MAX_REQUEST = 2147483136L;

    @TempDir
    Path dir;

    @Test
    void writesAndVerifiesPatterns() {
        Path img = dir.resolve("a.qcow2");
        QemuImg.create(img, "qcow2", 1 << 20);
        QemuIo.writePattern(img, "qcow2", 1000, 5000, 0xcd);
        QemuIo.verifyPattern(img, "qcow2", 1000, 5000, 0xcd);
        QemuIo.verifyPattern(img, "qcow2", 0, 1000, 0);
        QemuIo.writeZeroes(img, "qcow2", 2000, 100);
        QemuIo.verifyPattern(img, "qcow2", 2000, 100, 0);
        String out = QemuIo.run(img, "qcow2", "read -v 1000 16");
        assertThat(out).contains("cd cd cd cd");
    }

    @Test
    void failsLoudlyOnAFailedVerification() {
        Path img = dir.resolve("a.qcow2");
        QemuImg.create(img, "qcow2", 1 << 20);
        assertThatThrownBy(() -> QemuIo.verifyPattern(img, "qcow2", 0, 512, 0x12))
                .isInstanceOf(AssertionError.class)
                .hasMessageContaining("Pattern verification failed");
    }

    @Test
    void failsLoudlyOnAWritePastTheEnd() {
        Path img = dir.resolve("a.qcow2");
        QemuImg.create(img, "qcow2", 1 << 20);
        assertThatThrownBy(() -> QemuIo.writePattern(img, "qcow2", 1 << 20, 512, 1))
                .isInstanceOf(AssertionError.class).hasMessageContaining("failed");
    }

    @Test
    void failsLoudlyOnAnUnknownCommandAndAMissingFile() {
        Path img = dir.resolve("a.qcow2");
        QemuImg.create(img, "qcow2", 1 << 20);
        assertThatThrownBy(() -> QemuIo.run(img, "qcow2", "bogus 0 1")).isInstanceOf(AssertionError.class);
        assertThatThrownBy(() -> QemuIo.run(dir.resolve("missing.qcow2"), "qcow2", "read 0 1"))
                .isInstanceOf(AssertionError.class);
    }

    @Test
    void splitsLongRangesBelowQemuIosLimit() {
        List<String> zero = QemuIo.writeZeroesCommands(512, 5L << 30);
        assertThat(zero).hasSize(5).first().isEqualTo("write -z 512 1073741824");
        assertThat(zero).last().isEqualTo("write -z " + (512 + (4L << 30)) + " 1073741824");
        assertThat(QemuIo.discardCommands(0, (2L << 30) + 1)).containsExactly(
                "discard 0 1073741824", "discard 1073741824 1073741824", "discard 2147483648 1");
        assertThat(QemuIo.writePatternCommands(0, 100L << 20, 0xab))
                .containsExactly("write -P 0xab 0 67108864", "write -P 0xab 67108864 37748736");
        for (String c : QemuIo.readPatternCommands(7, 3L << 30, 1)) {
            assertThat(Long.parseLong(c.substring(c.lastIndexOf(' ') + 1))).isLessThanOrEqualTo(QEMU_IO_MAX_REQUEST);
        }
    }

    @Test
    void zeroesAndDiscardsMoreThanTwoGibibytes() {
        Path img = dir.resolve("big.qcow2");
        QemuImg.create(img, "qcow2", 6L << 30);
        QemuIo.writePattern(img, "qcow2", (5L << 30) + 4096, 4096, 0x77);
        QemuIo.writeZeroes(img, "qcow2", 0, 6L << 30);
        QemuIo.verifyPattern(img, "qcow2", (5L << 30) + 4096, 4096, 0);
        QemuIo.writePattern(img, "qcow2", 1L << 30, 65536, 0x78);
        QemuIo.discard(img, "qcow2", 0, 6L << 30);
        QemuIo.verifyPattern(img, "qcow2", 1L << 30, 65536, 0);
    }
}
