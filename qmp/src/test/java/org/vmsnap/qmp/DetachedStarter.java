package org.vmsnap.qmp;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.vmsnap.testkit.TestGuest;

/**
 * Run in a child JVM by {@link QemuProcessIT}: starts QEMU, prints its pid, and exits
 * without stopping it, as a vmsnap command does. Arguments: run folder, data disk, accel.
 */
final class DetachedStarter {

    private DetachedStarter() {
    }

    public static void main(String[] args) throws Exception {
        TestGuest guest = TestGuest.get();
        VmSpec spec = new VmSpec("detached", 128, 1, guest.kernel(), guest.initrd(), TestGuest.KERNEL_ARGS,
                List.of(VmSpec.Disk.qcow2("data", Path.of(args[1]))), VmSpec.Accel.valueOf(args[2]));
        try (QemuProcess qemu = QemuProcess.start(spec, Path.of(args[0]), Duration.ofSeconds(60))) {
            System.out.println(qemu.pid());
        }
    }
}
