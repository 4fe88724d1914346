package org.vmsnap.qmp;

import java.nio.file.Path;

/**
 * The files of one running VM, all in one folder: the QMP and guest-agent sockets, the
 * serial console log, QEMU's own log (stdout and stderr) and its pid file.
 */
public record RunFolder(Path dir) {

    public RunFolder {
        dir = dir.toAbsolutePath();
    }

    public Path qmpSocket() {
        return dir.resolve("qmp.sock");
    }

    public Path agentSocket() {
        return dir.resolve("qga.sock");
    }

    /**
     * A second QMP monitor for quick questions (the run state): QEMU serves one client per
     * monitor, and a long job on the first (a block commit) must not make "list" wait.
     */
    public Path statusSocket() {
        return dir.resolve("status.sock");
    }

    public Path serialLog() {
        return dir.resolve("serial.log");
    }

    public Path qemuLog() {
        return dir.resolve("qemu.log");
    }

    public Path pidFile() {
        return dir.resolve("qemu.pid");
    }

    /**
     * QEMU's exit status, written by the shell that waits for it ({@code 0}: QEMU quit or the guest
     * powered off; 128+N: killed by signal N): how a later command tells a crash from a shutdown.
     */
    public Path exitStatus() {
        return dir.resolve("exit-status");
    }
}
