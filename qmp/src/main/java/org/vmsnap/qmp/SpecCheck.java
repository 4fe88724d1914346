package org.vmsnap.qmp;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.vmsnap.qmp.hw.BlockLayer;
import org.vmsnap.qmp.hw.Disk;
import org.vmsnap.qmp.hw.DriveAddress;
import org.vmsnap.qmp.hw.Firmware;
import org.vmsnap.qmp.hw.Nic;
import org.vmsnap.qmp.hw.PciAddress;
import org.vmsnap.qmp.hw.PciController;
import org.vmsnap.qmp.hw.Rng;
import org.vmsnap.qmp.hw.Serial;
import org.vmsnap.qmp.hw.StorageController;
import org.vmsnap.qmp.hw.UsbController;
import org.vmsnap.qmp.hw.UsbInput;
import org.vmsnap.qmp.hw.Video;

/**
 * The cross-part rules of a {@link VmSpec}: what QEMU would refuse only at start (or, for a
 * duplicate node name, in a later block job), checked when the spec is made.
 */
final class SpecCheck {

    private static final Pattern ENV_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");

    private final VmSpec spec;
    private final Set<String> nodes = new HashSet<>();
    private final Set<String> ids = new HashSet<>();
    private final Map<String, String> pciSlots = new HashMap<>();
    private final Set<Integer> bootIndexes = new HashSet<>();

    private SpecCheck(VmSpec spec) {
        this.spec = spec;
    }

    static void check(VmSpec spec) {
        new SpecCheck(spec).run();
    }

    private void run() {
        if (spec.boot().firmware() instanceof Firmware.Uefi) {
            VmSpec.PFLASH_NODES.forEach(n -> node(n, "UEFI firmware"));
        }
        for (PciController c : spec.pciControllers()) {
            id(c.id());
        }
        for (PciController c : spec.pciControllers()) {
            pci(c.address(), c.id());
        }
        for (UsbController c : spec.usbControllers()) {
            if (!c.isCompanion()) {
                id(c.id());
            }
            pci(c.address(), c.id());
        }
        for (StorageController c : spec.storageControllers()) {
            id(c.id());
            pci(c.address(), c.id());
            if (c.kind() == StorageController.Kind.AHCI && c.index() == 0 && spec.machine().isQ35()) {
                throw new IllegalArgumentException("q35 has its SATA controller 0 built in: do not add " + c.id());
            }
        }
        if (spec.virtioSerial() != null) {
            pci(spec.virtioSerial().pci(), "virtio-serial0");
        }
        Set<String> driveSlots = new HashSet<>();
        for (Disk disk : spec.disks()) {
            disk(disk, driveSlots);
        }
        for (Nic nic : spec.nics()) {
            id(nic.id());
            id(nic.netdevId());
            pci(nic.pci(), nic.id());
            boot(nic.bootIndex(), nic.id());
        }
        long primaries = spec.videos().stream().filter(Video::primary).count();
        if (primaries > 1 || !spec.videos().isEmpty() && primaries == 0) {
            throw new IllegalArgumentException("there must be exactly one primary display adapter, not " + primaries);
        }
        for (int i = 0; i < spec.videos().size(); i++) {
            pci(spec.videos().get(i).pci(), "video" + i);
        }
        Set<Integer> ports = new HashSet<>();
        for (Serial serial : spec.serials()) {
            if (!ports.add(serial.port())) {
                throw new IllegalArgumentException("two serial devices on port " + serial.port());
            }
        }
        if (spec.balloon() != null) {
            pci(spec.balloon().pci(), "balloon0");
        } else if (spec.memory().ballooned()) {
            throw new IllegalArgumentException("current memory below the maximum needs a balloon device");
        }
        for (int i = 0; i < spec.rngs().size(); i++) {
            Rng rng = spec.rngs().get(i);
            pci(rng.pci(), "rng" + i);
        }
        for (UsbInput input : spec.inputs()) {
            if (spec.usbControllers().stream().noneMatch(c -> c.index() == input.bus() && !c.isCompanion())) {
                throw new IllegalArgumentException("USB " + input.kind() + " on bus " + input.bus()
                        + " needs a USB controller with that index");
            }
        }
        spec.env().forEach((k, v) -> {
            if (!ENV_NAME.matcher(k).matches() || v == null || v.indexOf('\0') >= 0) {
                throw new IllegalArgumentException("bad environment variable: " + k);
            }
        });
    }

    private void disk(Disk disk, Set<String> driveSlots) {
        id(disk.id());
        for (BlockLayer layer : disk.chain()) {
            node(layer.formatNode(), disk.id());
            node(layer.fileNode(), disk.id());
        }
        boot(disk.bootIndex(), disk.id());
        if (disk.bus() == Disk.Bus.VIRTIO) {
            pci(disk.pci(), disk.id());
            return;
        }
        DriveAddress a = disk.drive();
        boolean q35 = spec.machine().isQ35();
        switch (disk.bus()) {
            case IDE -> {
                if (q35) {
                    throw new IllegalArgumentException("disk " + disk.id() + ": q35 has no IDE controller");
                }
                if (a.controller() != 0 || a.bus() > 1 || a.target() != 0 || a.unit() > 1) {
                    throw new IllegalArgumentException("disk " + disk.id() + ": IDE addresses are controller 0, bus 0-1, unit 0-1");
                }
            }
            case SATA -> {
                boolean builtIn = q35 && a.controller() == 0;
                if (!builtIn && !hasController(StorageController.Kind.AHCI, a.controller())) {
                    throw new IllegalArgumentException("disk " + disk.id() + " needs SATA controller " + a.controller());
                }
                if (a.bus() != 0 || a.target() != 0 || a.unit() > 5) {
                    throw new IllegalArgumentException("disk " + disk.id() + ": SATA addresses are bus 0, unit 0-5");
                }
            }
            case SCSI -> {
                if (!hasController(StorageController.Kind.VIRTIO_SCSI, a.controller())) {
                    throw new IllegalArgumentException("disk " + disk.id() + " needs SCSI controller " + a.controller());
                }
                if (a.bus() != 0 || a.unit() > 16383) {
                    throw new IllegalArgumentException("disk " + disk.id() + ": SCSI addresses are bus 0");
                }
            }
            default -> throw new AssertionError(disk.bus());
        }
        String slot = disk.bus() + ":" + a.controller() + ":" + a.bus() + ":" + a.target() + ":" + a.unit();
        if (!driveSlots.add(slot)) {
            throw new IllegalArgumentException("disk " + disk.id() + ": another disk has the same drive address");
        }
    }

    private boolean hasController(StorageController.Kind kind, int index) {
        return spec.storageControllers().stream().anyMatch(c -> c.kind() == kind && c.index() == index);
    }

    private void node(String name, String owner) {
        if (!nodes.add(name)) {
            throw new IllegalArgumentException("node name " + name + " (" + owner + ") is used twice");
        }
    }

    private void id(String id) {
        if (!ids.add(id)) {
            throw new IllegalArgumentException("device id " + id + " is used twice");
        }
    }

    private void boot(Integer index, String owner) {
        if (index != null && !bootIndexes.add(index)) {
            throw new IllegalArgumentException(owner + ": boot index " + index + " is used twice");
        }
    }

    private void pci(PciAddress address, String owner) {
        if (address == null) {
            return;
        }
        if (address.bus() != 0 && spec.pciControllers().stream().noneMatch(c -> c.index() == address.bus())) {
            throw new IllegalArgumentException(owner + ": PCI bus " + address.bus() + " has no controller");
        }
        String key = address.bus() + ":" + address.slot() + "." + address.function();
        String other = pciSlots.putIfAbsent(key, owner);
        if (other != null) {
            throw new IllegalArgumentException(owner + " and " + other + " share PCI address " + key);
        }
    }
}
