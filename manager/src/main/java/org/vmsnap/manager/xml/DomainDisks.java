package org.vmsnap.manager.xml;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.vmsnap.manager.InvalidInputException;
import org.w3c.dom.Element;

/** Reads and rewrites the {@code <disk type='file'>} elements of a domain's {@code <devices>}. */
final class DomainDisks {
    private DomainDisks() {
    }

    static List<DiskDef> read(Element root, String domainName) throws InvalidInputException {
        List<DiskDef> out = new ArrayList<>();
        Element devices = Domain.child(root, "devices");
        if (devices == null) {
            return out;
        }
        Set<String> targets = new HashSet<>();
        for (Element disk : Domain.children(devices, "disk")) {
            String device = attr(disk, "device", "disk");
            Element target = Domain.child(disk, "target");
            String dev = target == null ? null : target.getAttribute("dev");
            if (dev == null || dev.isEmpty()) {
                throw new InvalidInputException("domain " + domainName + ": a <disk> has no <target dev=...>");
            }
            if (!targets.add(dev)) {
                throw new InvalidInputException("domain " + domainName + ": disk target " + dev + " appears twice");
            }
            String type = attr(disk, "type", "file");
            Element source = Domain.child(disk, "source");
            if (!"file".equals(type)) {
                continue; // network, block, volume disks are kept in the XML but not managed
            }
            String file = source == null ? "" : source.getAttribute("file");
            if (file.isEmpty()) {
                if ("cdrom".equals(device) || "floppy".equals(device)) {
                    continue; // an empty drive
                }
                throw new InvalidInputException("domain " + domainName + ": disk " + dev + " has no <source file=...>");
            }
            Path path = Path.of(file);
            if (!path.isAbsolute()) {
                throw new InvalidInputException("domain " + domainName + ": disk " + dev + " source '" + file
                        + "' is not an absolute path");
            }
            Element driver = Domain.child(disk, "driver");
            String format = driver == null || driver.getAttribute("type").isEmpty() ? "raw"
                    : driver.getAttribute("type");
            String bus = target.getAttribute("bus");
            out.add(new DiskDef(dev, bus.isEmpty() ? null : bus, device, path.normalize(), format,
                    Domain.child(disk, "readonly") != null));
        }
        return List.copyOf(out);
    }

    static void setSource(Element root, String targetDev, Path source, String format) {
        Element devices = Domain.child(root, "devices");
        for (Element disk : devices == null ? List.<Element>of() : Domain.children(devices, "disk")) {
            Element target = Domain.child(disk, "target");
            if (target == null || !targetDev.equals(target.getAttribute("dev"))) {
                continue;
            }
            Element src = Domain.child(disk, "source");
            if (src == null) {
                src = disk.getOwnerDocument().createElement("source");
                disk.insertBefore(src, target);
            }
            src.setAttribute("file", source.toString());
            // A <backingStore> describes the old chain; libvirt re-detects it, so drop it.
            for (Element bs : Domain.children(disk, "backingStore")) {
                disk.removeChild(bs);
            }
            Element driver = Domain.child(disk, "driver");
            if (driver == null) {
                driver = disk.getOwnerDocument().createElement("driver");
                driver.setAttribute("name", "qemu");
                disk.insertBefore(driver, disk.getFirstChild());
            }
            driver.setAttribute("type", format);
            return;
        }
        throw new IllegalArgumentException("no disk with target " + targetDev);
    }

    private static String attr(Element e, String name, String dflt) {
        String v = e.getAttribute(name);
        return v.isEmpty() ? dflt : v;
    }
}
