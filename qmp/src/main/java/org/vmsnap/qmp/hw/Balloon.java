package org.vmsnap.qmp.hw;

/** The virtio memory balloon (id {@code balloon0}): how a current memory below the maximum is reached. */
public record Balloon(PciAddress pci) {
}
