package org.vmsnap.qmp.hw;

/** The virtio-serial controller that carries the guest agent's port (id {@code virtio-serial0}). */
public record VirtioSerial(PciAddress pci) {
    public static final String ID = "virtio-serial0";
}
