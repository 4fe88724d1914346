package org.vmsnap.qmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.testkit.QemuImg;
import org.vmsnap.testkit.TestGuest;

/**
 * QemuProcess against real QEMU processes, without waiting for a guest to boot: pid files
 * that point elsewhere, start-up failures, quit and kill, and QEMU dying during a job.
 */
class QemuProcessIT {

    private static final Duration T = LiveGuests.QMP;

    @TempDir
    Path dir;

    private final List<QemuProcess> started = new ArrayList<>();
    private final List<Process> others = new ArrayList<>();

    @AfterEach
    void nothingLeft() throws Exception {
        for (QemuProcess qemu : started) {
            if (qemu.isAlive()) {
                qemu.kill();
            }
            qemu.close();
        }
        for (Process p : others) {
            p.destroyForcibly();
            p.waitFor();
        }
        LiveGuests.assertNothingLeft(dir);
    }

    private VmSpec spec(String name) {
        Path data = dir.resolve(name + ".qcow2");
        TestGuest.createDataDisk(data, 16);
        return LiveGuests.spec(name, 128, "", List.of(LiveGuests.disk("data", data)));
    }

    private QemuProcess start(VmSpec spec, Path runDir) throws Exception {
        QemuProcess qemu = QemuProcess.start(spec, runDir, T);
        started.add(qemu);
        return qemu;
    }

    @Test
    void qemuOutlivesTheJvmThatStartedIt_andALaterOneFindsIt() throws Exception {
        Path data = dir.resolve("detached.qcow2");
        TestGuest.createDataDisk(data, 16);
        Path run = dir.resolve("run");
        String java = ProcessHandle.current().info().command().orElseThrow();
        Process starter = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), DetachedStarter.class.getName(),
                run.toString(), data.toString(), LiveGuests.accel().name())
                .redirectErrorStream(true).start();
        others.add(starter);
        String output = new String(starter.getInputStream().readAllBytes()).strip();
        assertThat(starter.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(starter.exitValue()).as(output).isZero();
        long pid = Long.parseLong(output.lines().toList().getLast().strip());
        assertThat(starter.isAlive()).isFalse();

        QemuProcess found = QemuProcess.attach(run, T);
        started.add(found);
        assertThat(found.pid()).isEqualTo(pid);
        assertThat(found.isAlive()).as("QEMU survived the JVM that started it").isTrue();
        // setsid made its waiting shell (its parent) the leader of a session of its own: a signal to
        // our process group misses it
        String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
        String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        long parent = Long.parseLong(fields[1]);
        assertThat(Long.parseLong(fields[3])).as("session id").isEqualTo(parent);
        String ourStat = Files.readString(Path.of("/proc/self/stat"));
        assertThat(fields[3]).as("not our session").isNotEqualTo(
                ourStat.substring(ourStat.lastIndexOf(')') + 2).split(" ")[3]);
        assertThat(found.qmp().execute("query-status", null, T).path("status").asText()).isIn("running", "prelaunch");
        assertThat(found.quit()).isEqualTo(QemuProcess.Stopped.QUIT);
        // the shell records how QEMU ended, for a later command that did not see it end
        Path status = run.resolve("exit-status");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!Files.exists(status) && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(status).hasContent("0\n");
    }

    @Test
    void aPidFileNamingAProcessThatIsNotQemuIsRefusedAndTheProcessLeftAlone() throws Exception {
        Process sleeper = new ProcessBuilder("sleep", "300").start();
        others.add(sleeper);
        Path run = Files.createDirectories(dir.resolve("run"));
        Files.writeString(run.resolve("qemu.pid"), sleeper.pid() + "\n");
        assertThatThrownBy(() -> QemuProcess.attach(run, T))
                .isInstanceOf(QemuProcessException.class)
                .hasMessageContaining("names process " + sleeper.pid() + " (sleep), which is not QEMU");
        assertThatThrownBy(() -> QemuProcess.start(spec("x"), run, T))
                .isInstanceOf(QemuProcessException.class).hasMessageContaining("not QEMU");
        assertThat(sleeper.isAlive()).isTrue();
    }

    @Test
    void aStaleOrGarbledPidFileIsRecognised() throws Exception {
        Process gone = new ProcessBuilder("true").start();
        gone.waitFor();
        Path run = Files.createDirectories(dir.resolve("run"));
        Files.writeString(run.resolve("qemu.pid"), gone.pid() + "\n");
        assertThatThrownBy(() -> QemuProcess.attach(run, T))
                .isInstanceOf(QemuProcessException.class).hasMessageContaining("stale pid file");
        Files.writeString(run.resolve("qemu.pid"), "not a pid\n");
        assertThatThrownBy(() -> QemuProcess.attach(run, T))
                .isInstanceOf(QemuProcessException.class).hasMessageContaining("does not hold a process id");
        Files.delete(run.resolve("qemu.pid"));
        assertThatThrownBy(() -> QemuProcess.attach(run, T))
                .isInstanceOf(QemuProcessException.class).hasMessageContaining("no pid file");
    }

    @Test
    void anotherRunFoldersQemuIsRefused_andASecondStartInTheSameFolderToo() throws Exception {
        VmSpec spec = spec("a");
        QemuProcess a = start(spec, dir.resolve("a"));
        Path b = Files.createDirectories(dir.resolve("b"));
        Files.writeString(b.resolve("qemu.pid"), a.pid() + "\n");
        assertThatThrownBy(() -> QemuProcess.attach(b, T))
                .isInstanceOf(QemuProcessException.class).hasMessageContaining("a QEMU of another run folder");
        assertThatThrownBy(() -> QemuProcess.start(spec, dir.resolve("a"), T))
                .isInstanceOf(QemuProcessException.class).hasMessageContaining("already runs");
        assertThat(a.isAlive()).isTrue();
        a.kill();
        assertThat(a.isAlive()).isFalse();
        assertThat(dir.resolve("a/qemu.pid")).doesNotExist();
    }

    @Test
    void qemuThatCannotStartIsReportedWithTheEndOfItsLog() throws Exception {
        VmSpec broken = LiveGuests.spec("broken", 128, "",
                List.of(LiveGuests.disk("data", dir.resolve("missing-disk.qcow2"))));
        assertThatThrownBy(() -> QemuProcess.start(broken, dir.resolve("run"), T))
                .isInstanceOf(QemuProcessException.class)
                .hasMessageContaining("exited with status 1")
                .hasMessageContaining("missing-disk.qcow2");
    }

    @Test
    void quitEndsAPausedVmThatIgnoresThePowerButton_stopFallsBackToQuit() throws Exception {
        VmSpec spec = spec("paused");
        QemuProcess incoming = QemuProcess.startIncoming(spec, dir.resolve("in"), T);
        started.add(incoming);
        // QEMU serves the agent's socket, but no agent runs in a guest that never started
        assertThatThrownBy(() -> incoming.connectAgent(Duration.ofSeconds(1)))
                .isInstanceOf(QmpTimeoutException.class).hasMessageContaining("no guest agent responded");
        // a VM with stopped CPUs cannot answer the ACPI power button
        assertThat(incoming.stop(Duration.ofMillis(500))).isEqualTo(QemuProcess.Stopped.QUIT);
        assertThat(incoming.isAlive()).isFalse();
        assertThat(incoming.stop(Duration.ofMillis(500))).isEqualTo(QemuProcess.Stopped.ALREADY_EXITED);
    }

    @Test
    void qemuExitingDuringAJobFailsTheJobWithADisconnect() throws Exception {
        VmSpec spec = spec("job");
        QemuProcess qemu = start(spec, dir.resolve("run"));
        QmpClient qmp = qemu.qmp();
        Path target = dir.resolve("backup.qcow2");
        QemuImg.create(target, "qcow2", 16L << 20);
        ObjectNode add = QmpClient.arguments().put("driver", "qcow2").put("node-name", "target");
        add.putObject("file").put("driver", "file").put("filename", target.toString());
        qmp.execute("blockdev-add", add, T);
        // throttled to 1 byte/s: the backup runs until QEMU dies
        ObjectNode backup = QmpClient.arguments().put("job-id", "slow-backup").put("device", "data")
                .put("target", "target").put("sync", "full").put("speed", 1);
        CompletableFuture<Void> job = CompletableFuture.runAsync(() -> {
            try {
                QemuJob.run(qmp, "blockdev-backup", backup, Duration.ofMinutes(2));
            } catch (QmpException e) {
                throw new CompletionException(e);
            }
        });
        long deadline = System.nanoTime() + T.toNanos();
        while (!qmp.execute("query-jobs", null, T).findValuesAsText("status").contains("running")) {
            assertThat(System.nanoTime()).as("the backup job never ran").isLessThan(deadline);
            Thread.sleep(50);
        }
        ProcessHandle.of(qemu.pid()).orElseThrow().destroyForcibly(); // QEMU dies, not by our stop()
        assertThat(job).failsWithin(30, TimeUnit.SECONDS).withThrowableThat()
                .havingCause().isInstanceOf(QmpDisconnectedException.class);
        assertThat(qemu.waitForExit(Duration.ofSeconds(10))).isTrue();
    }
}
