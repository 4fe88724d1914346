package org.vmsnap.qmp.hw;

import java.util.Objects;

/**
 * A display adapter; sizes in KiB as libvirt gives them, null for QEMU's default.
 *
 * @param primary the adapter the firmware uses (its VGA variant)
 */
public record Video(Model model, boolean primary, Integer heads, Long ramKiB, Long vramKiB, Long vram64KiB,
                    Long vgamemKiB, PciAddress pci) {

    public enum Model { VGA, CIRRUS, BOCHS, VIRTIO, QXL }

    public Video {
        Objects.requireNonNull(model, "model");
        if (!primary && model != Model.VIRTIO && model != Model.QXL) {
            throw new IllegalArgumentException(model + " can only be the primary display adapter");
        }
    }

    public static Video vga() {
        return new Video(Model.VGA, true, null, null, null, null, null, null);
    }
}
