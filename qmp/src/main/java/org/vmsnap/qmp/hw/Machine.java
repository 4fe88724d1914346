package org.vmsnap.qmp.hw;

import java.util.regex.Pattern;

/**
 * The machine type: {@code pc} or {@code q35}, or a versioned name of either
 * ({@code pc-i440fx-7.2}, {@code pc-q35-7.2}). Whether this QEMU knows a versioned name is
 * QEMU's to say at start.
 */
public record Machine(String type) {

    private static final Pattern TYPE = Pattern.compile("pc|q35|pc-i440fx-\\d+\\.\\d+|pc-q35-\\d+\\.\\d+");

    public static final Machine PC = new Machine("pc");
    public static final Machine Q35 = new Machine("q35");

    public Machine {
        if (type == null || !TYPE.matcher(type).matches()) {
            throw new IllegalArgumentException("machine type must be pc, q35, pc-i440fx-X.Y or pc-q35-X.Y, not " + type);
        }
    }

    public boolean isQ35() {
        return type.equals("q35") || type.startsWith("pc-q35-");
    }

    /** The bus QEMU names the root PCI(e) bus of this machine. */
    public String rootBus() {
        return isQ35() ? "pcie.0" : "pci.0";
    }
}
