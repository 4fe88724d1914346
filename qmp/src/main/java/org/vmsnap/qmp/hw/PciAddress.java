package org.vmsnap.qmp.hw;

/**
 * Where a PCI device sits: bus number (0 is the machine's root bus, others are
 * {@link PciController}s by index), slot and function. The guest sees it (Linux names NICs
 * after it), so a VM keeps its addresses across starts.
 */
public record PciAddress(int bus, int slot, int function, boolean multifunction) {
    public PciAddress {
        if (bus < 0 || bus > 255 || slot < 0 || slot > 31 || function < 0 || function > 7) {
            throw new IllegalArgumentException("PCI address out of range: bus " + bus + " slot " + slot
                    + " function " + function);
        }
    }

    public static PciAddress of(int bus, int slot) {
        return new PciAddress(bus, slot, 0, false);
    }

    /** QEMU's {@code addr}: {@code 0x1f.0x2}, or {@code 0x3} for function 0. */
    public String qemuAddr() {
        return "0x" + Integer.toHexString(slot) + (function == 0 ? "" : ".0x" + Integer.toHexString(function));
    }
}
