package org.vmsnap.qmp.hw;

import java.nio.file.Path;
import java.util.Objects;

/** Direct kernel boot: QEMU loads the kernel and initrd itself, with this command line. */
public record KernelBoot(Path kernel, Path initrd, String cmdline) {
    public KernelBoot {
        Objects.requireNonNull(kernel, "kernel");
        cmdline = cmdline == null ? "" : cmdline;
    }
}
