package org.vmsnap.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class QemuToolsTest {

    @Test
    void findsTheQemuToolsOnPath() {
        assertThat(QemuTools.qemuImg()).isExecutable().hasFileName("qemu-img");
        assertThat(QemuTools.qemuIo()).isExecutable().hasFileName("qemu-io");
    }

    @Test
    void aMissingToolFailsWithTheInstallHint() {
        assertThatThrownBy(() -> QemuTools.find("qemu-img-no-such-tool", "qemu-utils"))
                .isInstanceOf(AssertionError.class)
                .hasMessage("qemu-img-no-such-tool not found: ./vmsnap-test installs qemu-utils");
    }

    @Test
    void returnsExitCodeAndBothOutputs() {
        QemuTools.Result r = QemuTools.run(List.of("sh", "-c", "echo out; echo err >&2; exit 7"));
        assertThat(r.exitCode()).isEqualTo(7);
        assertThat(r.stdout()).isEqualTo("out\n");
        assertThat(r.stderr()).isEqualTo("err\n");
        assertThatThrownBy(r::requireSuccess).isInstanceOf(AssertionError.class)
                .hasMessageContaining("exited with 7").hasMessageContaining("err");
    }

    @Test
    void largeOutputsOnBothStreamsDoNotDeadlock() {
        // 8 MiB on each stream: far more than a pipe buffer holds.
        QemuTools.Result r = QemuTools.run(List.of("sh", "-c",
                "head -c 8388608 /dev/zero | tr '\\0' a; head -c 8388608 /dev/zero | tr '\\0' b >&2"),
                Duration.ofSeconds(60));
        assertThat(r.exitCode()).isZero();
        assertThat(r.stdout()).hasSize(8 << 20);
        assertThat(r.stderr()).hasSize(8 << 20);
    }

    @Test
    void aTimeoutKillsAndReapsTheProcess(@TempDir Path dir) throws Exception {
        Path pidFile = dir.resolve("pid");
        assertThatThrownBy(() -> QemuTools.run(
                List.of("sh", "-c", "echo $$ > " + pidFile + "; exec sleep 60"), Duration.ofMillis(500)))
                .isInstanceOf(AssertionError.class)
                .hasMessageContaining("did not finish within");
        long pid = Long.parseLong(Files.readString(pidFile).strip());
        assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive)).isNotEqualTo(java.util.Optional.of(true));
    }
}
