package org.vmsnap.qmp.hw;

import java.util.Set;

/**
 * A USB controller (QEMU id {@code usb} for index 0, {@code usb<index>} otherwise). UHCI
 * companions of an EHCI controller share its index and name their first port.
 *
 * @param driver          QEMU's device: qemu-xhci, nec-usb-xhci, piix3-usb-uhci, piix4-usb-uhci,
 *                        usb-ehci, ich9-usb-ehci1, ich9-usb-uhci1..3
 * @param ports           ports of an xHCI controller, or null
 * @param companionFirstPort for a companion, its first port on the master; null otherwise
 */
public record UsbController(int index, String driver, Integer ports, Integer companionFirstPort, PciAddress address) {

    static final Set<String> DRIVERS = Set.of("qemu-xhci", "nec-usb-xhci", "piix3-usb-uhci", "piix4-usb-uhci",
            "usb-ehci", "ich9-usb-ehci1", "ich9-usb-uhci1", "ich9-usb-uhci2", "ich9-usb-uhci3");

    public UsbController {
        if (!DRIVERS.contains(driver)) {
            throw new IllegalArgumentException("USB controller must be one of " + DRIVERS + ", not " + driver);
        }
        if (index < 0 || index > 31) {
            throw new IllegalArgumentException("USB controller index must be 0..31: " + index);
        }
    }

    public String id() {
        return index == 0 ? "usb" : "usb" + index;
    }

    public boolean isCompanion() {
        return companionFirstPort != null;
    }
}
