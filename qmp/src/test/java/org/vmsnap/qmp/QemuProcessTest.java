package org.vmsnap.qmp;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The scan of every process for a starting QEMU survives what other processes call themselves. */
class QemuProcessTest {
    @TempDir
    Path dir;

    @Test
    void aProcessNamedSlashIsNotQemuAndDoesNotStopTheScan() throws Exception {
        assertThat(QemuProcess.binaryOf(List.of("/"))).isEmpty();
        assertThat(QemuProcess.binaryOf(List.of())).isEmpty();
        assertThat(QemuProcess.binaryOf(List.of("/usr/bin/qemu-system-x86_64", "-S"))).isEqualTo("qemu-system-x86_64");
        // A process whose argv[0] is "/" (a destroy after a benchmark once failed on one:
        // Path.getFileName() was null).
        Process p = new ProcessBuilder("bash", "-c", "exec -a / sleep 30").start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!QemuProcess.commandLine(p.pid()).equals(List.of("/", "30")) && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertThat(QemuProcess.commandLine(p.pid())).containsExactly("/", "30");
            assertThat(QemuProcess.isLiveQemu(p.pid())).isFalse();
            assertThat(QemuProcess.startingPid(dir)).isEmpty();
        } finally {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
