package org.vmsnap.cli.virsh;

import java.nio.file.Path;
import java.util.List;

import org.vmsnap.cli.CliException;
import org.vmsnap.manager.InvalidInputException;
import org.vmsnap.manager.xml.SnapshotMode;
import org.vmsnap.manager.xml.XmlText;

/**
 * snapshot-create-as's {@code --memspec [file=]name[,snapshot=type]}, split as virsh splits it
 * (a doubled comma is a comma in the file name).
 *
 * @param file     the memory file, or null
 * @param snapshot the snapshot= value (no, internal, external), or null
 */
record MemSpec(String file, String snapshot) {

    static MemSpec parse(String spec) {
        List<String> parts = DiskSpec.split(spec);
        String file = null;
        String snapshot = null;
        for (int i = 0; i < parts.size(); i++) {
            String p = parts.get(i);
            if (file == null && p.startsWith("file=")) {
                file = p.substring("file=".length());
            } else if (file == null && i == 0 && !p.startsWith("snapshot=")) {
                file = p;
            } else if (snapshot == null && p.startsWith("snapshot=")) {
                snapshot = p.substring("snapshot=".length());
            } else {
                throw new CliException("unable to parse memspec: " + spec);
            }
        }
        if (file != null && file.isEmpty() || file == null && snapshot == null) {
            throw new CliException("unable to parse memspec: " + spec);
        }
        return new MemSpec(file, snapshot);
    }

    /** The request's memory mode: snapshot= when given, else external when a file is named (libvirt's default). */
    SnapshotMode mode() throws InvalidInputException {
        return snapshot != null ? SnapshotMode.parse(snapshot) : SnapshotMode.EXTERNAL;
    }

    Path path() {
        return file == null ? null : org.vmsnap.cli.Cwd.path(file);
    }

    /** The {@code <memory>} element as virsh writes it into the --print-xml document. */
    void appendXml(StringBuilder b) {
        b.append("  <memory");
        if (snapshot != null) {
            b.append(" snapshot='").append(snapshot).append('\'');
        }
        if (file != null) {
            b.append(" file='").append(XmlText.escape(file)).append('\'');
        }
        b.append("/>\n");
    }
}
