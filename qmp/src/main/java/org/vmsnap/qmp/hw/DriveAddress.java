package org.vmsnap.qmp.hw;

/** A disk's place on an IDE, SATA or SCSI controller, libvirt's {@code <address type='drive'>}. */
public record DriveAddress(int controller, int bus, int target, int unit) {
    public DriveAddress {
        if (controller < 0 || bus < 0 || target < 0 || unit < 0 || controller > 31 || bus > 7 || target > 255
                || unit > 16383) {
            throw new IllegalArgumentException("drive address out of range: " + controller + ":" + bus + ":" + target
                    + ":" + unit);
        }
    }
}
