package org.vmsnap.qmp.hw;

import java.util.Objects;

/**
 * What QEMU does by itself when the guest powers off, reboots or panics (QEMU's
 * {@code -action}; there is no daemon to act on events as libvirt's is).
 */
public record Lifecycle(Shutdown shutdown, Reboot reboot, Panic panic) {

    /** QEMU's defaults: exit on power-off, reset on reboot, power off on panic. */
    public static final Lifecycle DEFAULT = new Lifecycle(Shutdown.POWEROFF, Reboot.RESET, Panic.SHUTDOWN);

    /** A guest reboot ends QEMU, as {@code -no-reboot}. */
    public static final Lifecycle NO_REBOOT = new Lifecycle(Shutdown.POWEROFF, Reboot.SHUTDOWN, Panic.SHUTDOWN);

    /** {@code -action shutdown=}: exit, or stop the guest and keep QEMU ({@code -no-shutdown}). */
    public enum Shutdown { POWEROFF, PAUSE }

    /** {@code -action reboot=}: reset the machine, or handle the reboot as a power-off. */
    public enum Reboot { RESET, SHUTDOWN }

    /** {@code -action panic=} (needs a panic device in the guest to matter). */
    public enum Panic { PAUSE, SHUTDOWN, EXIT_FAILURE, NONE }

    public Lifecycle {
        Objects.requireNonNull(shutdown, "shutdown");
        Objects.requireNonNull(reboot, "reboot");
        Objects.requireNonNull(panic, "panic");
    }

    String qemu(Enum<?> action) {
        return action.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
    }

    /** The value of QEMU's {@code -action}. */
    public String qemuAction() {
        return "reboot=" + qemu(reboot) + ",shutdown=" + qemu(shutdown) + ",panic=" + qemu(panic);
    }
}
