package org.vmsnap.manager.xml;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.vmsnap.manager.InvalidInputException;

/** Reads and rewrites the {@code <disk type='file'>} elements of a domain's {@code <devices>}. */
final class DomainDisks {
    private DomainDisks() {
    }

    static List<DiskDef> read(XmlElement root, String domainName) throws InvalidInputException {
        List<DiskDef> out = new ArrayList<>();
        XmlElement devices = root.child("devices");
        if (devices == null) {
            return out;
        }
        Set<String> targets = new HashSet<>();
        for (XmlElement disk : devices.children("disk")) {
            String device = disk.attr("device", "disk");
            XmlElement target = disk.child("target");
            String dev = target == null ? "" : target.attr("dev", "");
            if (dev.isEmpty()) {
                throw new InvalidInputException("domain " + domainName + ": a <disk> has no <target dev=...>");
            }
            if (!targets.add(dev)) {
                throw new InvalidInputException("domain " + domainName + ": disk target " + dev + " appears twice");
            }
            if (!"file".equals(disk.attr("type", "file"))) {
                continue; // network, block, volume disks are kept in the XML but not managed
            }
            XmlElement source = disk.child("source");
            String file = source == null ? "" : source.attr("file", "");
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
            XmlElement driver = disk.child("driver");
            String format = driver == null ? "raw" : driver.attr("type", "raw");
            String bus = target.attr("bus", "");
            out.add(new DiskDef(dev, bus.isEmpty() ? null : bus, device, path.normalize(), format,
                    disk.child("readonly") != null));
        }
        return List.copyOf(out);
    }

    /**
     * Points disk {@code targetDev} at another image. Elements go where libvirt writes them
     * (driver, source, ..., target), so a changed domain still looks like dumpxml output.
     */
    static void setSource(XmlElement root, String targetDev, Path source, String format) {
        XmlElement devices = root.child("devices");
        for (XmlElement disk : devices == null ? List.<XmlElement>of() : devices.children("disk")) {
            XmlElement target = disk.child("target");
            if (target == null || !targetDev.equals(target.attr("dev"))) {
                continue;
            }
            XmlElement driver = disk.child("driver");
            if (driver == null) {
                driver = new XmlElement("driver").set("name", "qemu");
                disk.insertBefore(driver, disk.children().stream()
                        .filter(c -> c instanceof XmlElement).findFirst().orElse(null));
            }
            driver.set("type", format);
            XmlElement src = disk.child("source");
            if (src == null) {
                src = new XmlElement("source");
                disk.insertAfter(src, driver);
            }
            src.set("file", source.toString());
            // A <backingStore> describes the old chain; libvirt re-detects it, so drop it.
            for (XmlElement bs : disk.children("backingStore")) {
                disk.remove(bs);
            }
            return;
        }
        throw new IllegalArgumentException("no disk with target " + targetDev);
    }
}
