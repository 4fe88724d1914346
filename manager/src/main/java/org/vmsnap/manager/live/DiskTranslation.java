package org.vmsnap.manager.live;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.vmsnap.manager.xml.DomainHardware;
import org.vmsnap.qmp.VmSpec;
import org.vmsnap.qmp.hw.BlockLayer;
import org.vmsnap.qmp.hw.Disk;
import org.vmsnap.qmp.hw.DiskTuning;
import org.vmsnap.qmp.hw.DriveAddress;
import org.vmsnap.qmp.hw.PciAddress;

/**
 * {@code <disk>}s: file disks (qcow2 or raw) and CD-ROMs on virtio, SATA, SCSI (virtio-scsi) or
 * IDE, each over the caller's chain; the device id is the target ({@code vda}). The boot order
 * is per device; {@code <os><boot dev>} is turned into one as libvirt does (the first hard disk,
 * CD-ROM or NIC of each kind listed, in order).
 */
final class DiskTranslation {

    private final DomainHardware hw;
    private final Refusals refuse;
    private final ControllerTranslation controllers;
    private final Map<String, List<BlockLayer>> chains;

    DiskTranslation(DomainHardware hw, Refusals refuse, ControllerTranslation controllers,
            Map<String, List<BlockLayer>> chains) {
        this.hw = hw;
        this.refuse = refuse;
        this.controllers = controllers;
        this.chains = chains;
    }

    void apply(VmSpec.Builder spec) {
        boolean perDevice = hw.disks().stream().anyMatch(d -> d.bootOrder() != null)
                || hw.interfaces().stream().anyMatch(i -> i.bootOrder() != null);
        if (perDevice && !hw.os().bootDevs().isEmpty()) {
            refuse.add("<os><boot dev=...> and per-device <boot order=...> cannot be mixed: keep one of them");
        }
        for (DomainHardware.Disk d : hw.disks()) {
            Disk disk = disk(d, bootIndex(d));
            if (disk != null) {
                spec.disk(disk);
            }
        }
    }

    /** The boot index of {@code d}: its own, or its kind's place in {@code <os><boot dev>}. */
    private Integer bootIndex(DomainHardware.Disk d) {
        if (d.bootOrder() != null) {
            return d.bootOrder();
        }
        String kind = "cdrom".equals(d.device()) ? "cdrom" : "hd";
        DomainHardware.Disk first = hw.disks().stream().filter(x -> kind.equals("cdrom") == "cdrom".equals(x.device()))
                .findFirst().orElse(null);
        int i = hw.os().bootDevs().indexOf(kind);
        return first == d && i >= 0 ? i + 1 : null;
    }

    private Disk disk(DomainHardware.Disk d, Integer bootIndex) {
        String target = d.target();
        String what = "<disk> " + target + ":";
        if (!"file".equals(d.type())) {
            return refuse.add("<disk type='" + d.type() + "'> " + target + " is not supported: vmsnap runs file disks "
                    + "(qcow2 or raw)");
        }
        Disk.Media media = switch (d.device()) {
            case "disk" -> Disk.Media.DISK;
            case "cdrom" -> Disk.Media.CDROM;
            default -> refuse.add("<disk device='" + d.device() + "'> " + target + " is not supported: use disk or cdrom");
        };
        if (media == null) {
            return null;
        }
        Disk.Bus bus = bus(d);
        if (bus == null) {
            return null;
        }
        if (d.driverName() != null && !d.driverName().equals("qemu")) {
            return refuse.add(what + " <driver name='" + d.driverName() + "'> is not supported: use qemu");
        }
        if (d.driverType() != null && !d.driverType().equals("qcow2") && !d.driverType().equals("raw")) {
            return refuse.add(what + " <driver type='" + d.driverType() + "'> is not supported: use qcow2 or raw");
        }
        if (d.readOnly() && media == Disk.Media.DISK && bus != Disk.Bus.VIRTIO && bus != Disk.Bus.SCSI) {
            return refuse.add(what + " <readonly/> on a bus='" + d.bus() + "' hard disk is not supported (QEMU's IDE "
                    + "disks cannot be read-only): use bus='virtio'");
        }
        if (d.tray() != null && !d.tray().equals("closed")) {
            return refuse.add(what + " <target tray='" + d.tray() + "'> is not supported: use closed");
        }
        if (media == Disk.Media.CDROM && bus == Disk.Bus.VIRTIO) {
            return refuse.add(what + " a CD-ROM cannot be on bus='virtio': use sata, scsi or ide");
        }
        DiskTuning tuning = tuning(d, what);
        List<BlockLayer> chain = chain(d, target);
        if (tuning == null || chain == null) {
            return null;
        }
        PciAddress pci = null;
        DriveAddress drive = null;
        if (bus == Disk.Bus.VIRTIO) {
            pci = controllers.pci("<disk> " + target + ": ", d.address());
            if (d.address() != null && pci == null) {
                return null;
            }
        } else {
            drive = drive(d, bus, what);
            if (drive == null) {
                return null;
            }
        }
        try {
            return new Disk(target, bus, media, d.readOnly(), tuning, chain, bootIndex, pci, drive, d.serial());
        } catch (IllegalArgumentException e) {
            return refuse.add(what + " " + e.getMessage());
        }
    }

    /** The bus, or libvirt's default for the target's prefix (hd: ide, sd: scsi, vd: virtio). */
    private Disk.Bus bus(DomainHardware.Disk d) {
        String bus = d.bus();
        if (bus == null) {
            bus = d.target().startsWith("vd") ? "virtio" : d.target().startsWith("sd") ? "scsi"
                    : d.target().startsWith("hd") ? "ide" : "";
        }
        return switch (bus) {
            case "virtio" -> Disk.Bus.VIRTIO;
            case "sata" -> Disk.Bus.SATA;
            case "scsi" -> Disk.Bus.SCSI;
            case "ide" -> Disk.Bus.IDE;
            default -> refuse.add("<disk> " + d.target() + ": <target bus='" + bus + "'> is not supported: use virtio, "
                    + "sata, scsi or ide");
        };
    }

    private DiskTuning tuning(DomainHardware.Disk d, String what) {
        DiskTuning.Cache cache = value(DiskTuning.Cache.class, d.cache(), what + " <driver cache", "default");
        DiskTuning.Discard discard = value(DiskTuning.Discard.class, d.discard(), what + " <driver discard", null);
        DiskTuning.Aio aio = value(DiskTuning.Aio.class, d.io(), what + " <driver io", null);
        DiskTuning.DetectZeroes zeroes = value(DiskTuning.DetectZeroes.class, d.detectZeroes(),
                what + " <driver detect_zeroes", null);
        if (bad(d.cache(), cache, "default") || bad(d.discard(), discard, null) || bad(d.io(), aio, null)
                || bad(d.detectZeroes(), zeroes, null)) {
            return null;
        }
        try {
            return new DiskTuning(cache, discard, aio, zeroes);
        } catch (IllegalArgumentException e) {
            return refuse.add(what + " <driver> " + e.getMessage());
        }
    }

    private static boolean bad(String raw, Object parsed, String neutral) {
        return raw != null && !raw.equals(neutral) && parsed == null;
    }

    private <E extends Enum<E>> E value(Class<E> type, String raw, String what, String neutral) {
        if (raw == null || raw.equals(neutral)) {
            return null;
        }
        for (E e : type.getEnumConstants()) {
            if (e.name().toLowerCase(java.util.Locale.ROOT).equals(raw)) {
                return e;
            }
        }
        return refuse.add(what + "='" + raw + "'> is not supported");
    }

    private List<BlockLayer> chain(DomainHardware.Disk d, String target) {
        if (d.sourceFile() == null) {
            if (!"cdrom".equals(d.device())) {
                return refuse.add("<disk> " + target + " has no <source file>");
            }
            return List.of();
        }
        List<BlockLayer> chain = chains.get(target);
        if ((chain == null || chain.isEmpty()) && refuse.any()) {
            return null; // the domain is refused anyway; the caller may have skipped its images
        }
        if (chain == null || chain.isEmpty()) {
            throw new IllegalArgumentException("no image chain given for disk " + target);
        }
        Path source = Path.of(d.sourceFile()).normalize();
        if (!chain.getFirst().file().toAbsolutePath().normalize().equals(source)) {
            throw new IllegalArgumentException("disk " + target + ": the chain's top is " + chain.getFirst().file()
                    + ", not the disk's source " + source);
        }
        String format = d.driverType() == null ? "raw" : d.driverType();
        if (!chain.getFirst().format().driver().equals(format)) {
            throw new IllegalArgumentException("disk " + target + ": the chain's top is " + chain.getFirst().format()
                    + ", the XML says " + format);
        }
        return chain;
    }

    /** The drive address, or libvirt's default for the target's index (sda 0, sdb 1, ...). */
    private DriveAddress drive(DomainHardware.Disk d, Disk.Bus bus, String what) {
        DomainHardware.Address a = d.address();
        int index = targetIndex(d.target());
        int controller;
        int b;
        int target = 0;
        int unit;
        if (a != null) {
            if (!"drive".equals(a.type())) {
                return refuse.add(what + " <address type='" + a.type() + "'> is not supported: use type='drive'");
            }
            controller = n(a.controller());
            b = n(a.bus());
            target = n(a.target());
            unit = n(a.unit());
        } else if (index < 0) {
            return refuse.add(what + " has no <address type='drive'> and its name gives none");
        } else if (bus == Disk.Bus.IDE) {
            controller = index / 4;
            b = index % 4 / 2;
            unit = index % 2;
        } else if (bus == Disk.Bus.SATA) {
            controller = index / 6;
            b = 0;
            unit = index % 6;
        } else {
            controller = 0;
            b = 0;
            unit = index;
        }
        boolean present = switch (bus) {
            case SATA -> controllers.hasSata(controller);
            case SCSI -> controllers.hasScsi(controller);
            default -> !controllers.q35() && controller == 0;
        };
        if (!present) {
            return refuse.add(what + " bus='" + d.bus() + "' needs <controller type='" + bus.name().toLowerCase(java.util.Locale.ROOT)
                    + "' index='" + controller + "'>" + (bus == Disk.Bus.IDE && controllers.q35() ? ": q35 has no IDE, use bus='sata'" : ""));
        }
        try {
            DriveAddress address = new DriveAddress(controller, b, target, unit);
            boolean fits = switch (bus) {
                case IDE -> b <= 1 && unit <= 1 && target == 0;
                case SATA -> b == 0 && target == 0 && unit <= 5;
                default -> b == 0;
            };
            return fits ? address : refuse.add(what + " <address> bus " + b + " target " + target + " unit " + unit
                    + " does not exist on a " + d.bus() + " controller");
        } catch (IllegalArgumentException e) {
            return refuse.add(what + " " + e.getMessage());
        }
    }

    private static int n(Integer v) {
        return v == null ? 0 : v;
    }

    /** sda: 0, sdz: 25, sdaa: 26, as libvirt's virDiskNameToIndex. */
    static int targetIndex(String name) {
        String letters = name.length() > 2 ? name.substring(2) : "";
        if (letters.isEmpty() || !letters.chars().allMatch(c -> c >= 'a' && c <= 'z')) {
            return -1;
        }
        int index = 0;
        for (char c : letters.toCharArray()) {
            index = index * 26 + (c - 'a' + 1);
        }
        return index - 1;
    }
}
