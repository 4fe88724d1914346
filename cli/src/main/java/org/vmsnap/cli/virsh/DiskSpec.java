package org.vmsnap.cli.virsh;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.vmsnap.cli.CliException;
import org.vmsnap.manager.InvalidInputException;
import org.vmsnap.manager.xml.SnapshotDisk;
import org.vmsnap.manager.xml.SnapshotMode;
import org.vmsnap.manager.xml.XmlText;

/**
 * One {@code --diskspec disk[,snapshot=type][,driver=type][,file=name]} of snapshot-create-as,
 * split as virsh splits it (a doubled comma is a comma in a value).
 *
 * @param name     the disk's target or source path
 * @param snapshot the snapshot= value, or null
 * @param driver   the driver= value, or null
 * @param file     the file= value, or null
 */
record DiskSpec(String name, String snapshot, String driver, String file) {

    static DiskSpec parse(String spec) {
        List<String> parts = split(spec);
        if (parts.isEmpty() || parts.getFirst().isEmpty()) {
            throw new CliException("unable to parse diskspec: " + spec);
        }
        String snapshot = null;
        String driver = null;
        String file = null;
        for (String p : parts.subList(1, parts.size())) {
            if (snapshot == null && p.startsWith("snapshot=")) {
                snapshot = p.substring("snapshot=".length());
            } else if (driver == null && p.startsWith("driver=")) {
                driver = p.substring("driver=".length());
            } else if (file == null && p.startsWith("file=")) {
                file = p.substring("file=".length());
            } else {
                throw new CliException("unable to parse diskspec: " + spec);
            }
        }
        return new DiskSpec(parts.getFirst(), snapshot, driver, file);
    }

    /** vshStringToArray: commas separate, ",," stands for one comma. */
    static List<String> split(String s) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == ',' && i + 1 < s.length() && s.charAt(i + 1) == ',') {
                cur.append(',');
                i++;
            } else if (c == ',') {
                out.add(cur.toString());
                cur.setLength(0);
            } else {
                cur.append(c);
            }
        }
        out.add(cur.toString());
        return out;
    }

    /** The request's disk: mode from snapshot= (external when only a file is given, as libvirt). */
    SnapshotDisk toDisk() throws InvalidInputException {
        SnapshotMode mode = snapshot != null ? SnapshotMode.parse(snapshot)
                : file != null ? SnapshotMode.EXTERNAL : null;
        return new SnapshotDisk(name, mode, file == null ? null : org.vmsnap.cli.Cwd.path(file), driver);
    }

    /** The {@code <disk>} element exactly as virsh writes it into the --print-xml document. */
    void appendXml(StringBuilder b) {
        b.append("    <disk name='").append(XmlText.escape(name)).append('\'');
        if (snapshot != null) {
            b.append(" snapshot='").append(snapshot).append('\''); // virsh does not escape these two
        }
        if (driver == null && file == null) {
            b.append("/>\n");
            return;
        }
        b.append(">\n");
        if (driver != null) {
            b.append("      <driver type='").append(driver).append("'/>\n");
        }
        if (file != null) {
            b.append("      <source file='").append(XmlText.escape(file)).append("'/>\n");
        }
        b.append("    </disk>\n");
    }
}
