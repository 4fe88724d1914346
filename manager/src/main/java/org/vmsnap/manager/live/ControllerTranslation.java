package org.vmsnap.manager.live;

import java.util.HashSet;
import java.util.Map;
import java.util.Set;

import org.vmsnap.manager.xml.DomainHardware;
import org.vmsnap.qmp.VmSpec;
import org.vmsnap.qmp.hw.PciAddress;
import org.vmsnap.qmp.hw.PciController;
import org.vmsnap.qmp.hw.StorageController;
import org.vmsnap.qmp.hw.UsbController;
import org.vmsnap.qmp.hw.VirtioSerial;

/**
 * {@code <controller>}s, and the PCI addresses of every device: an address in the XML is kept
 * (the guest sees it: Linux names NICs after it) on the buses vmsnap builds, the machine's root
 * bus and the root ports and bridges of the XML; the built-in controllers of pc and q35 (IDE at
 * 00:01.1, SATA at 00:1f.2) must sit where QEMU has them.
 */
final class ControllerTranslation {

    /** libvirt's USB models and QEMU's devices for them. */
    private static final Map<String, String> USB = Map.of("qemu-xhci", "qemu-xhci", "nec-xhci", "nec-usb-xhci",
            "piix3-uhci", "piix3-usb-uhci", "piix4-uhci", "piix4-usb-uhci", "ehci", "usb-ehci",
            "ich9-ehci1", "ich9-usb-ehci1", "ich9-uhci1", "ich9-usb-uhci1", "ich9-uhci2", "ich9-usb-uhci2",
            "ich9-uhci3", "ich9-usb-uhci3");

    private final DomainHardware hw;
    private final Refusals refuse;
    private final boolean q35;
    private final Set<Integer> pciBuses = new HashSet<>();
    private final Set<Integer> usbBuses = new HashSet<>();
    private final Set<Integer> sata = new HashSet<>();
    private final Set<Integer> scsi = new HashSet<>();

    ControllerTranslation(DomainHardware hw, Refusals refuse) {
        this.hw = hw;
        this.refuse = refuse;
        String machine = hw.machine() == null ? "pc" : hw.machine();
        this.q35 = machine.equals("q35") || machine.startsWith("pc-q35-");
        pciBuses.add(0);
        if (q35) {
            sata.add(0); // built in
        }
        for (DomainHardware.Controller c : hw.controllers()) {
            if ("pci".equals(c.type()) && c.index() != null) {
                pciBuses.add(c.index());
            }
        }
    }

    boolean q35() {
        return q35;
    }

    boolean hasUsb(int index) {
        return usbBuses.contains(index);
    }

    boolean hasSata(int index) {
        return sata.contains(index);
    }

    boolean hasScsi(int index) {
        return scsi.contains(index);
    }

    void apply(VmSpec.Builder spec) {
        for (DomainHardware.Controller c : hw.controllers()) {
            String type = String.valueOf(c.type());
            int index = c.index() == null ? 0 : c.index();
            String what = "<controller type='" + type + "'" + (c.model() == null ? "" : " model='" + c.model() + "'") + ">";
            switch (type) {
                case "pci" -> pci(spec, c, index, what);
                case "usb" -> usb(spec, c, index, what);
                case "sata" -> {
                    if (q35 && index == 0) {
                        builtIn(c, what, 0x1f, 2);
                    } else {
                        sata.add(index);
                        spec.storageController(new StorageController(StorageController.Kind.AHCI, index, pci(what, c.address())));
                    }
                }
                case "ide" -> {
                    if (q35) {
                        refuse.add(what + " is not supported on q35 (it has no IDE): use bus='sata' for its disks");
                    } else if (index != 0) {
                        refuse.add(what + " index " + index + " is not supported: pc has one IDE controller");
                    } else {
                        builtIn(c, what, 1, 1);
                    }
                }
                case "scsi" -> {
                    if (!"virtio-scsi".equals(c.model())) {
                        refuse.add(what + " is not supported: use model='virtio-scsi'");
                    } else {
                        scsi.add(index);
                        spec.storageController(new StorageController(StorageController.Kind.VIRTIO_SCSI, index,
                                pci(what, c.address())));
                    }
                }
                case "virtio-serial" -> {
                    if (index != 0 || c.ports() != null) {
                        refuse.add(what + (index != 0 ? " index " + index : " ports") + " is not supported: vmsnap "
                                + "uses one virtio-serial controller (index 0) with QEMU's default ports");
                    } else {
                        spec.virtioSerial(new VirtioSerial(pci(what, c.address())));
                    }
                }
                default -> refuse.unsupported(what);
            }
        }
    }

    private void pci(VmSpec.Builder spec, DomainHardware.Controller c, int index, String what) {
        String model = String.valueOf(c.model());
        switch (model) {
            case "pci-root", "pcie-root" -> {
                if (index != 0 || model.equals("pcie-root") != q35) {
                    refuse.add(what + " index " + index + " does not fit the machine: " + (q35 ? "q35 has pcie-root"
                            : "pc has pci-root") + " as index 0");
                }
            }
            case "pcie-root-port", "pci-bridge", "pcie-to-pci-bridge" -> {
                if (c.modelName() != null && !c.modelName().equals(expectedModelName(model))) {
                    refuse.add(what + "<model name='" + c.modelName() + "'> is not supported: use "
                            + expectedModelName(model));
                    return;
                }
                if (index == 0) {
                    refuse.add(what + " cannot be index 0 (the root bus)");
                    return;
                }
                PciController.Model m = switch (model) {
                    case "pcie-root-port" -> PciController.Model.PCIE_ROOT_PORT;
                    case "pci-bridge" -> PciController.Model.PCI_BRIDGE;
                    default -> PciController.Model.PCIE_PCI_BRIDGE;
                };
                spec.pciController(new PciController(index, m, c.chassis(), c.port(), pci(what, c.address())));
            }
            default -> refuse.add(what + " is not supported: vmsnap builds pcie-root-port, pci-bridge and "
                    + "pcie-to-pci-bridge");
        }
    }

    private static String expectedModelName(String model) {
        return switch (model) {
            case "pcie-root-port" -> "pcie-root-port";
            case "pci-bridge" -> "pci-bridge";
            default -> "pcie-pci-bridge";
        };
    }

    private void usb(VmSpec.Builder spec, DomainHardware.Controller c, int index, String what) {
        String model = c.model() == null ? (q35 ? "qemu-xhci" : "piix3-uhci") : c.model();
        if (model.equals("none")) {
            return;
        }
        String driver = USB.get(model);
        if (driver == null) {
            refuse.add(what + " is not supported: use model='qemu-xhci'");
            return;
        }
        if (c.masterStartport() == null) {
            usbBuses.add(index);
        }
        spec.usbController(new UsbController(index, driver, c.ports(), c.masterStartport(), pci(what, c.address())));
    }

    /** A controller QEMU builds into the machine: its address, if given, must be QEMU's. */
    private void builtIn(DomainHardware.Controller c, String what, int slot, int function) {
        DomainHardware.Address a = c.address();
        if (a != null && (!"pci".equals(a.type()) || !zero(a.domain()) || !zero(a.bus()) || a.slot() == null
                || a.slot() != slot || a.function() == null || a.function() != function)) {
            refuse.add(what + " is built into the machine at 0000:00:" + String.format("%02x.%x", slot, function)
                    + ": remove its <address> or use that one");
        }
    }

    /** A device's PCI address, or null (QEMU's choice) when the XML has none. */
    PciAddress pci(String what, DomainHardware.Address a) {
        if (a == null) {
            return null;
        }
        if (!"pci".equals(a.type())) {
            return refuse.add(what + "<address type='" + a.type() + "'> is not supported: use a PCI address");
        }
        if (!zero(a.domain())) {
            return refuse.add(what + "<address domain='" + hex(a.domain()) + "'> is not supported: use domain 0x0000");
        }
        int bus = a.bus() == null ? 0 : a.bus();
        if (!pciBuses.contains(bus)) {
            return refuse.add(what + "<address bus='" + hex(bus) + "'> names a bus without a <controller type='pci' index='"
                    + bus + "'>");
        }
        try {
            return new PciAddress(bus, a.slot() == null ? 0 : a.slot(), a.function() == null ? 0 : a.function(),
                    a.multifunction());
        } catch (IllegalArgumentException e) {
            return refuse.add(what + "<address> " + e.getMessage());
        }
    }

    private static boolean zero(Integer n) {
        return n == null || n == 0;
    }

    private static String hex(Integer n) {
        return n == null ? "" : "0x" + Integer.toHexString(n);
    }
}
