package org.vmsnap.qmp.hw;

import java.util.Objects;

/**
 * A disk controller QEMU must be told about: an AHCI (SATA) controller (q35 has one built in at
 * 00:1f.2 whose ports are {@code ide.0..5}; other machines need this, id {@code sata<index>}),
 * or a virtio-scsi controller (id {@code scsi<index>}).
 */
public record StorageController(Kind kind, int index, PciAddress address) {

    public enum Kind { AHCI, VIRTIO_SCSI }

    public StorageController {
        Objects.requireNonNull(kind, "kind");
        if (index < 0 || index > 31) {
            throw new IllegalArgumentException("controller index must be 0..31: " + index);
        }
    }

    public String id() {
        return (kind == Kind.AHCI ? "sata" : "scsi") + index;
    }
}
