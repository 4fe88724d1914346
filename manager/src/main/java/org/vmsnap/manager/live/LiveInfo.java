package org.vmsnap.manager.live;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;

import org.vmsnap.qmp.QmpException;

/** Figures of a running QEMU for dominfo: CPU time and the balloon's size. */
public final class LiveInfo {
    /** The kernel's clock ticks per second for /proc/PID/stat times (USER_HZ, 100 on Linux). */
    private static final double TICKS_PER_SECOND = 100.0;

    private LiveInfo() {
    }

    /** User plus system CPU time of the QEMU process, in seconds (0 when it cannot be read). */
    public static double cpuTimeSec(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            // fields after the name: state(0) ppid(1) ... utime(11) stime(12)
            return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / TICKS_PER_SECOND;
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    /**
     * The uid the process runs as ({@code Uid:} of /proc/PID/status, the real uid), or -1 when it
     * cannot be read.
     */
    public static long uid(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
                if (line.startsWith("Uid:")) {
                    return Long.parseLong(line.substring(4).strip().split("\\s+")[0]);
                }
            }
        } catch (IOException | RuntimeException e) {
            // gone meanwhile: no uid
        }
        return -1;
    }

    /** The balloon's current size in KiB, when the guest has a balloon device. */
    public static OptionalLong balloonKiB(LiveQemu q) {
        try {
            return OptionalLong.of(q.qmp().execute("query-balloon", null, LiveQemu.QMP_TIMEOUT).path("actual")
                    .asLong() / 1024);
        } catch (QmpException e) {
            return OptionalLong.empty();
        }
    }
}
