package org.vmsnap.manager.live;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.OptionalLong;

import org.vmsnap.manager.ManagerException;
import org.vmsnap.manager.plan.MadeFiles;
import org.vmsnap.manager.plan.Step;
import org.vmsnap.manager.plan.StepNotStartedException;
import org.vmsnap.qmp.MemoryFileWriter;
import org.vmsnap.qmp.MemoryStream;
import org.vmsnap.qmp.QemuProcess;
import org.vmsnap.qmp.QmpClient;
import org.vmsnap.qmp.QmpException;
import org.vmsnap.qmp.RunFolder;

/**
 * The memory save and restore steps of {@link LiveExecutor}. A save names its QEMU by pid (gone:
 * the undo has nothing to resume); a restore by the domain's run folder, where only the plan's own
 * QEMU can run (the domain was shut off when it was planned).
 */
final class MemorySteps {
    /** A save of a few GiB under TCG takes a minute; an hour means QEMU stopped sending. */
    static final Duration SAVE_TIMEOUT = Duration.ofHours(1);

    /** The longest pause of a live checkpoint's last pass that QEMU aims for. */
    static final long LIVE_DOWNTIME_MILLIS = 50;

    private MemorySteps() {
    }

    /** Stops the CPUs (a paused guest stays paused). */
    static void pause(QmpClient qmp) throws IOException {
        if (qmp == null) {
            throw new StepNotStartedException(new IOException("QEMU is gone: nothing to save"));
        }
        if (status(qmp).equals("running")) {
            qmp.execute("stop", null, LiveQemu.QMP_TIMEOUT);
        }
    }

    /** Runs the CPUs again if they ran before the save (after a migration too: cont reactivates the disks). */
    static void unpause(QmpClient qmp, boolean wasRunning) throws IOException {
        if (qmp == null || !wasRunning) {
            return;
        }
        String s = status(qmp);
        if (s.equals("paused") || s.equals("postmigrate")) {
            qmp.execute("cont", null, LiveQemu.QMP_TIMEOUT);
        }
    }

    static void save(QmpClient qmp, Step.SaveMemory m) throws IOException {
        if (qmp == null) {
            throw new ManagerException("QEMU ended before its memory was saved");
        }
        if (m.live()) {
            liveParameters(qmp);
        }
        try (MemoryFileWriter w = MemoryFileWriter.create(m.file(), m.partial(), m.domainXml(), m.wasRunning(),
                MemoryFileWriter.defaultCompression())) {
            MemoryStream.save(qmp, m.socketDir(), w, SAVE_TIMEOUT);
            w.publish(); // the partial link stays until the plan's DropLink: the proof the file is ours
        }
    }

    /**
     * The pause of the last pass: 50 ms (QEMU's default allows 300); a guest that dirties memory
     * faster than it is copied is slowed down until the copy converges.
     */
    static void liveParameters(QmpClient qmp) throws QmpException {
        qmp.execute("migrate-set-parameters", QmpClient.arguments().put("downtime-limit", LIVE_DOWNTIME_MILLIS),
                LiveQemu.QMP_TIMEOUT);
        var caps = QmpClient.arguments();
        caps.putArray("capabilities").addObject().put("capability", "auto-converge").put("state", true);
        qmp.execute("migrate-set-capabilities", caps, LiveQemu.QMP_TIMEOUT);
    }

    /** Cancels a migration that may still run and removes the files the step made. */
    static void unsave(QmpClient qmp, Step.SaveMemory m) throws IOException {
        if (qmp != null) {
            try {
                String s = qmp.execute("query-migrate", null, LiveQemu.QMP_TIMEOUT).path("status").asText("");
                if (s.equals("active") || s.equals("setup") || s.equals("device") || s.equals("pre-switchover")) {
                    qmp.execute("migrate_cancel", null, LiveQemu.QMP_TIMEOUT);
                }
            } catch (QmpException e) {
                // QEMU is going away: nothing to cancel
            }
        }
        if (MadeFiles.isOurs(m.file(), m.partial())) {
            Files.delete(m.file());
        }
        MemoryFileWriter.dropPartial(m.partial());
        if (m.live()) {
            // No PauseForSave to undo: the migration's end stopped the guest, which ran before.
            unpause(qmp, m.wasRunning());
        }
    }

    /** QEMU quits (SIGKILL if it does not); nothing when it is gone already. */
    static void quit(LiveQemu q, long pid) throws IOException {
        if (q == null || q.pid() != pid || !q.isAlive()) {
            return;
        }
        try {
            q.qmp().execute("quit", null, LiveQemu.QMP_TIMEOUT);
        } catch (QmpException e) {
            // disconnected: it is quitting
        }
        q.close();
        if (!q.awaitExit(Duration.ofSeconds(30))) {
            q.signal(true);
            if (!q.awaitExit(Duration.ofSeconds(10))) {
                throw new ManagerException("QEMU (pid " + pid + ") did not end after its memory was saved");
            }
        }
    }

    /** Kills the QEMU of the run folder, if any, and removes the run record: the domain stays shut off. */
    static void unrestore(Step.RestoreMemory r) throws IOException {
        OptionalLong pid = QemuProcess.runningPid(r.runDir());
        if (pid.isEmpty()) {
            pid = QemuProcess.startingPid(r.runDir());
        }
        if (pid.isPresent()) {
            ProcessHandle.of(pid.getAsLong()).ifPresent(h -> {
                h.destroyForcibly();
                try {
                    h.onExit().get(10, java.util.concurrent.TimeUnit.SECONDS);
                } catch (Exception e) {
                    // checked below
                }
            });
            if (ProcessHandle.of(pid.getAsLong()).map(ProcessHandle::isAlive).orElse(false)) {
                throw new ManagerException("QEMU (pid " + pid.getAsLong() + ") of the failed restore did not end");
            }
        }
        RunFolder run = new RunFolder(r.runDir());
        for (Path p : new Path[] {run.qmpSocket(), run.agentSocket(), run.statusSocket(), run.pidFile()}) {
            Files.deleteIfExists(p);
        }
        Files.deleteIfExists(r.runtimeFile());
    }

    /** cont when the guest is to run; a QEMU that is gone leaves nothing to do (the domain is off). */
    static void resumeRestored(Step.ResumeRestored r) throws IOException {
        if (!r.running()) {
            return;
        }
        OptionalLong pid = QemuProcess.runningPid(r.runDir());
        if (pid.isEmpty()) {
            return;
        }
        try (QmpClient qmp = QmpClient.connect(new RunFolder(r.runDir()).qmpSocket(), LiveQemu.QMP_TIMEOUT)) {
            if (status(qmp).equals("paused")) {
                qmp.execute("cont", null, LiveQemu.QMP_TIMEOUT);
            }
        }
    }

    static void removeSaveImage(Path file) throws IOException {
        Files.deleteIfExists(file);
    }

    private static String status(QmpClient qmp) throws QmpException {
        return qmp.execute("query-status", null, LiveQemu.QMP_TIMEOUT).path("status").asText();
    }
}
