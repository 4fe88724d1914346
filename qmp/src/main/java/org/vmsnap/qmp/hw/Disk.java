package org.vmsnap.qmp.hw;

import java.util.List;
import java.util.Objects;

/**
 * A disk device over a chain of image layers.
 *
 * @param id        the device id, stable across starts: the disk's target name ({@code vda})
 * @param bus       virtio (a PCI device), sata, scsi or ide (on a {@link DriveAddress})
 * @param media     a hard disk or a CD-ROM
 * @param readOnly  the guest cannot write (every layer opened read-only)
 * @param chain     the layers, top (the image the guest writes) first; each layer's backing is
 *                  the next, the last has none. Empty only for a CD-ROM without a medium.
 * @param bootIndex the device's place in the boot order (1 first), or null
 * @param pci       a virtio disk's PCI address, or null for QEMU's choice
 * @param drive     a sata/scsi/ide disk's place on its controller (required for those buses)
 * @param serial    the serial number the guest sees, or null
 */
public record Disk(String id, Bus bus, Media media, boolean readOnly, DiskTuning tuning, List<BlockLayer> chain,
                   Integer bootIndex, PciAddress pci, DriveAddress drive, String serial) {

    public enum Bus { VIRTIO, SATA, SCSI, IDE }

    public enum Media { DISK, CDROM }

    public Disk {
        NodeNames.require(id, "disk id");
        Objects.requireNonNull(bus, "bus");
        Objects.requireNonNull(media, "media");
        tuning = tuning == null ? DiskTuning.DEFAULT : tuning;
        chain = List.copyOf(chain);
        if (chain.isEmpty() && media != Media.CDROM) {
            throw new IllegalArgumentException("disk " + id + " has no image (only a CD-ROM may be empty)");
        }
        if (media == Media.CDROM && bus == Bus.VIRTIO) {
            throw new IllegalArgumentException("disk " + id + ": a CD-ROM cannot be on virtio");
        }
        if (bus == Bus.VIRTIO ? drive != null : pci != null || drive == null) {
            throw new IllegalArgumentException("disk " + id + ": a virtio disk has a PCI address (or none), others a drive address");
        }
        if (bootIndex != null && bootIndex < 1) {
            throw new IllegalArgumentException("disk " + id + ": boot index must be 1 or more");
        }
        if (serial != null && !serial.matches("[A-Za-z0-9 _.+-]{1,20}")) {
            throw new IllegalArgumentException("disk " + id + ": serial must be 1-20 of [A-Za-z0-9 _.+-]: " + serial);
        }
    }

    /** A writable qcow2 virtio disk of one layer, named {@code <id>-format} over {@code <id>-storage}. */
    public static Disk virtio(String id, java.nio.file.Path qcow2) {
        return new Disk(id, Bus.VIRTIO, Media.DISK, false, DiskTuning.DEFAULT,
                List.of(BlockLayer.of(qcow2, BlockLayer.Format.QCOW2, id)), null, null, null, null);
    }

    /** The node the device is attached to (the top layer's format node), or null for an empty CD-ROM. */
    public String topNode() {
        return chain.isEmpty() ? null : chain.getFirst().formatNode();
    }
}
