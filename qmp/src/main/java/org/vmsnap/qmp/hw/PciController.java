package org.vmsnap.qmp.hw;

import java.util.Objects;

/**
 * A PCI(e) controller that makes bus {@code index} (QEMU id {@code pci.<index>}), as libvirt
 * adds them: root ports on q35, PCI bridges.
 *
 * @param chassis a root port's chassis, or a bridge's chassis_nr; null for QEMU's default
 * @param port    a root port's port number, or null
 */
public record PciController(int index, Model model, Integer chassis, Integer port, PciAddress address) {

    public enum Model {
        PCIE_ROOT_PORT("pcie-root-port"), PCI_BRIDGE("pci-bridge"), PCIE_PCI_BRIDGE("pcie-pci-bridge");

        private final String driver;

        Model(String driver) {
            this.driver = driver;
        }

        public String driver() {
            return driver;
        }
    }

    public PciController {
        if (index < 1 || index > 255) {
            throw new IllegalArgumentException("PCI controller index must be 1..255 (0 is the root bus): " + index);
        }
        Objects.requireNonNull(model, "model");
    }

    public String id() {
        return "pci." + index;
    }
}
