package org.vmsnap.qmp.hw;

/**
 * Machine features the guest sees. Null means QEMU's default for the machine type.
 *
 * @param acpi   ACPI tables (off: {@code -machine acpi=off})
 * @param vmport the VMware I/O port
 * @param hpet   the HPET timer
 * @param s3     suspend to RAM offered to the guest
 * @param s4     suspend to disk offered to the guest
 */
public record Platform(boolean acpi, Boolean vmport, Boolean hpet, Boolean s3, Boolean s4) {
    public static final Platform DEFAULT = new Platform(true, null, null, null, null);
}
