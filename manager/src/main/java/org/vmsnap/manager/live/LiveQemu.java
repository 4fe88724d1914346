package org.vmsnap.manager.live;

import java.nio.file.Files;
import java.time.Duration;
import java.util.OptionalLong;

import org.vmsnap.qmp.GuestAgentClient;
import org.vmsnap.qmp.QemuProcess;
import org.vmsnap.qmp.QmpClient;
import org.vmsnap.qmp.QmpException;

/**
 * The QEMU of a running domain, found from its {@link RunRecord}: its pid, and a QMP connection
 * made on first use (closed with this object; QEMU keeps running).
 */
public final class LiveQemu implements AutoCloseable {
    /** How long one QMP command may take (a busy TCG guest answers within a second). */
    public static final Duration QMP_TIMEOUT = Duration.ofSeconds(30);

    private final RunRecord record;
    private final long pid;
    private QmpClient qmp;

    private LiveQemu(RunRecord record, long pid) {
        this.record = record;
        this.pid = pid;
    }

    /**
     * The QEMU the record describes, if it runs: for one vmsnap started, the live QEMU its run
     * folder's pid file names (or one still starting with that pid file); for an attached one,
     * the live QEMU with the recorded pid whose QMP socket is still there.
     */
    public static java.util.Optional<LiveQemu> find(RunRecord record) {
        if (record.adopted()) {
            return QemuProcess.isLiveQemu(record.pid()) && Files.exists(record.qmpSocket())
                    ? java.util.Optional.of(new LiveQemu(record, record.pid())) : java.util.Optional.empty();
        }
        OptionalLong pid = QemuProcess.runningPid(record.runDir());
        if (pid.isEmpty()) {
            pid = QemuProcess.startingPid(record.runDir());
        }
        return pid.isPresent() ? java.util.Optional.of(new LiveQemu(record, pid.getAsLong()))
                : java.util.Optional.empty();
    }

    public RunRecord record() {
        return record;
    }

    public long pid() {
        return pid;
    }

    public boolean isAlive() {
        return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }

    /** The QMP connection (made now if needed). */
    public synchronized QmpClient qmp() throws QmpException {
        if (qmp == null || !qmp.isConnected()) {
            qmp = QmpClient.connect(record.qmpSocket(), QMP_TIMEOUT);
        }
        return qmp;
    }

    /** QEMU's run state ({@code query-status}): running, paused, prelaunch, shutdown, ... */
    public String qemuStatus() throws QmpException {
        return qmp().execute("query-status", null, QMP_TIMEOUT).path("status").asText();
    }

    /** How long a status question may wait (another command may hold the monitor of an attached QEMU). */
    static final Duration STATUS_TIMEOUT = Duration.ofSeconds(3);

    /**
     * The run state asked on the status monitor (a second QMP socket vmsnap's QEMUs have, free
     * while another command holds the first), without touching the main connection.
     */
    public String statusQuestion() throws QmpException {
        java.nio.file.Path socket = record.adopted() ? record.qmpSocket()
                : new org.vmsnap.qmp.RunFolder(record.runDir()).statusSocket();
        if (!Files.exists(socket)) {
            socket = record.qmpSocket(); // a QEMU started before vmsnap had the status monitor
        }
        try (QmpClient c = QmpClient.connect(socket, STATUS_TIMEOUT)) {
            return c.execute("query-status", null, STATUS_TIMEOUT).path("status").asText();
        }
    }

    /** A query on the status monitor (free while another command holds the first), e.g. query-migrate. */
    public com.fasterxml.jackson.databind.JsonNode statusCommand(String command) throws QmpException {
        java.nio.file.Path socket = record.adopted() ? record.qmpSocket()
                : new org.vmsnap.qmp.RunFolder(record.runDir()).statusSocket();
        if (!Files.exists(socket)) {
            socket = record.qmpSocket();
        }
        try (QmpClient c = QmpClient.connect(socket, STATUS_TIMEOUT)) {
            return c.execute(command, null, STATUS_TIMEOUT);
        }
    }

    /** A new connection to the guest agent, or null when the domain has no agent channel. */
    public GuestAgentClient agent(Duration timeout) throws QmpException {
        return record.agentSocket() == null ? null : GuestAgentClient.connect(record.agentSocket(), timeout);
    }

    /** Sends a signal to QEMU (15: the graceful stop QEMU handles, 9: kill). */
    public void signal(boolean kill) {
        ProcessHandle.of(pid).ifPresent(h -> {
            if (kill) {
                h.destroyForcibly();
            } else {
                h.destroy();
            }
        });
    }

    /** Waits until QEMU has exited; false when it did not within {@code timeout}. */
    public boolean awaitExit(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (isAlive()) {
            if (System.nanoTime() - deadline > 0) {
                return false;
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return !isAlive();
            }
        }
        return true;
    }

    @Override
    public synchronized void close() {
        if (qmp != null) {
            qmp.close();
            qmp = null;
        }
    }
}
