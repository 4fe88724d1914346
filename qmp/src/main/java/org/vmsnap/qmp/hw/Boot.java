package org.vmsnap.qmp.hw;

import java.util.Objects;

/**
 * How the VM boots: firmware, optionally a kernel QEMU loads directly, and the firmware's
 * boot menu. The boot order is per device ({@code bootIndex} of disks and NICs).
 *
 * @param menuTimeoutMillis how long the menu waits, or null for the firmware's default
 */
public record Boot(Firmware firmware, KernelBoot kernel, boolean menu, Integer menuTimeoutMillis) {
    public Boot {
        Objects.requireNonNull(firmware, "firmware");
        if (menuTimeoutMillis != null && (!menu || menuTimeoutMillis < 0 || menuTimeoutMillis > 65535)) {
            throw new IllegalArgumentException("a boot menu timeout needs the menu and 0..65535 ms: " + menuTimeoutMillis);
        }
    }

    public static Boot bios() {
        return new Boot(Firmware.BIOS, null, false, null);
    }

    public static Boot kernel(KernelBoot kernel) {
        return new Boot(Firmware.BIOS, kernel, false, null);
    }
}
