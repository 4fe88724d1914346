package org.vmsnap.qmp;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * Run in a child JVM by {@link QemuProcessIT}: starts QEMU, prints its pid, and exits
 * without stopping it, as a vmsnap command does. Arguments: run folder, data disk, accel.
 */
final class DetachedStarter {

    private DetachedStarter() {
    }

    public static void main(String[] args) throws Exception {
        VmSpec spec = LiveGuests.spec("detached", 128, "", List.of(LiveGuests.disk("data", Path.of(args[1]))))
                .toBuilder().accel(VmSpec.Accel.valueOf(args[2])).build();
        try (QemuProcess qemu = QemuProcess.start(spec, Path.of(args[0]), Duration.ofSeconds(60))) {
            System.out.println(qemu.pid());
        }
    }
}
