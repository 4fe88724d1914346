package org.vmsnap.manager.xml;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.vmsnap.manager.InvalidInputException;

/**
 * The {@code <disks>} of a {@code <domainsnapshot>}, read with libvirt's rules and written in
 * libvirt's layout: {@code <disk name='vda' snapshot='internal'/>}, and for an external disk
 * {@code <disk name='vda' snapshot='external' type='file'>} with {@code <driver type=.../>} then
 * {@code <source file=.../>}.
 */
final class SnapshotDisksXml {
    /** libvirt's storage format names (virStorageFileFormat), the values {@code <driver type>} may take. */
    private static final Set<String> FORMATS = Set.of("raw", "dir", "bochs", "cloop", "dmg", "iso", "vpc", "vdi",
            "fat", "vhd", "ploop", "cow", "qcow", "qcow2", "qed", "vmdk", "luks");

    private SnapshotDisksXml() {
    }

    /**
     * Reads the disks. A disk named by its image path is renamed to its target when the snapshot
     * carries a domain that has a disk with that source (as libvirt does when it aligns disks).
     */
    static List<SnapshotDisk> read(XmlElement disks, Domain domain) throws InvalidInputException {
        List<SnapshotDisk> out = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (Object c : disks.children()) {
            if (!(c instanceof XmlElement d)) {
                continue;
            }
            if (!d.tag().equals("disk")) {
                throw new InvalidInputException("snapshot XML: unexpected <" + d.tag() + "> in <disks>");
            }
            SnapshotDisk disk = disk(d, domain);
            if (!seen.add(disk.name())) {
                throw new InvalidInputException("snapshot XML: disk '" + disk.name() + "' specified twice");
            }
            out.add(disk);
        }
        return out;
    }

    private static SnapshotDisk disk(XmlElement d, Domain domain) throws InvalidInputException {
        String name = d.attr("name", "");
        if (name.isEmpty()) {
            throw new InvalidInputException("snapshot XML: a <disk> has no name");
        }
        name = targetOf(name, domain);
        String type = d.attr("type", "file");
        if (!type.equals("file")) {
            throw new InvalidInputException("snapshot XML: disk " + name + ": type '" + type
                    + "' is not supported (vmsnap snapshots disks into files: type='file')");
        }
        String m = d.attr("snapshot");
        SnapshotMode mode = m == null ? null : SnapshotMode.parse(m);
        XmlElement src = d.child("source");
        Path file = null;
        if (src != null && !src.attr("file", "").isEmpty()) {
            file = Path.of(src.attr("file"));
            if (!file.isAbsolute()) {
                throw new InvalidInputException("snapshot XML: disk " + name + ": image path '" + file
                        + "' must be absolute");
            }
        }
        XmlElement drv = d.child("driver");
        String format = drv == null ? null : drv.attr("type", null);
        if (format != null && !FORMATS.contains(format)) {
            throw new InvalidInputException("snapshot XML: disk " + name + ": unknown driver type '" + format + "'");
        }
        if (mode == null && (file != null || format != null)) {
            mode = SnapshotMode.EXTERNAL; // libvirt: a file or a format means external
        }
        if (file != null && mode != SnapshotMode.EXTERNAL) {
            throw new InvalidInputException("snapshot XML: file '" + file + "' for disk " + name
                    + " requires snapshot='external'");
        }
        return new SnapshotDisk(name, mode, file, format);
    }

    private static String targetOf(String name, Domain domain) throws InvalidInputException {
        if (!name.contains("/")) {
            return name;
        }
        if (!Path.of(name).isAbsolute()) {
            throw new InvalidInputException("snapshot XML: disk name '" + name
                    + "' is neither a target (vda) nor an absolute image path");
        }
        if (domain == null) {
            return name; // a request: the manager matches it against the domain's current disks
        }
        Path p = Path.of(name).normalize();
        return domain.disks().stream().filter(x -> x.source().equals(p)).map(DiskDef::target).findFirst()
                .orElseThrow(() -> new InvalidInputException("snapshot XML: no disk named '" + name
                        + "' in the snapshot's domain " + domain.name()));
    }

    static void write(XmlElement parent, List<SnapshotDisk> disks) {
        if (disks.isEmpty()) {
            return;
        }
        XmlElement ds = parent.addElement("disks");
        for (SnapshotDisk d : disks) {
            XmlElement e = ds.addElement("disk").set("name", d.name());
            if (d.mode() != null) {
                e.set("snapshot", d.mode().xmlName());
            }
            if (d.source() != null || d.driverType() != null) {
                e.set("type", "file");
                if (d.driverType() != null) {
                    e.addElement("driver").set("type", d.driverType());
                }
                if (d.source() != null) {
                    e.addElement("source").set("file", d.source().toString());
                }
            }
        }
    }
}
