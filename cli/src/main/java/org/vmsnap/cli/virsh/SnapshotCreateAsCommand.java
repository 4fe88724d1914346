package org.vmsnap.cli.virsh;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import org.vmsnap.cli.CliException;
import org.vmsnap.cli.HelpCommand;
import org.vmsnap.manager.SnapshotService;
import org.vmsnap.manager.xml.SnapshotDef;
import org.vmsnap.manager.xml.SnapshotDisk;
import org.vmsnap.manager.xml.XmlText;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code snapshot-create-as DOMAIN [NAME] [DESCRIPTION] [--disk-only] [--diskspec ...]...
 * [--print-xml] [--no-metadata] [--reuse-external] [--atomic]}.
 */
@Command(name = "snapshot-create-as",
        description = "Create a snapshot from a set of args (as virsh snapshot-create-as).",
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap snapshot-create-as vm1 installed \"fresh install\"   # internal",
                "  vmsnap snapshot-create-as vm1 upgraded --disk-only          # external",
                "  vmsnap snapshot-create-as vm1 before-test    # running: a checkpoint (disks + memory)",
                "  vmsnap snapshot-create-as vm1 cp1 --memspec /vm/cp1.mem --live  # + memory",
                "  vmsnap snapshot-create-as vm1 cp2 --live   # internal; memory beside the first disk",
                "  vmsnap snapshot-create-as vm1 mixed --diskspec vda,snapshot=internal \\",
                "      --diskspec vdb,snapshot=external",
                "  vmsnap snapshot-create-as vm1 -- -x        # a name that starts with '-'"})
public final class SnapshotCreateAsCommand extends VirshSubcommand {

    @Parameters(index = "0", paramLabel = "DOMAIN")
    String domain;

    @Parameters(index = "1", arity = "0..1", paramLabel = "NAME",
            description = "Default: the creation time in seconds.")
    String positionalName;

    @Parameters(index = "2", arity = "0..1", paramLabel = "DESCRIPTION")
    String positionalDescription;

    @Option(names = "--name", paramLabel = "NAME", description = "Name of the snapshot.")
    String name;

    @Option(names = "--description", paramLabel = "TEXT", description = "Description of the snapshot.")
    String description;

    @Option(names = "--print-xml", description = "Print the XML document rather than create.")
    boolean printXml;

    @Mixin
    CreateFlagOptions flags;

    @Option(names = "--diskspec", paramLabel = "disk[,snapshot=type][,driver=type][,file=name]",
            description = "Per-disk snapshot mode: internal, external or no.")
    List<String> diskspecs = new ArrayList<>();

    @Option(names = "--memspec", paramLabel = "[file=]name[,snapshot=type]",
            description = "Memory of a running domain: snapshot=external saves it to the file (an external"
                    + " checkpoint), internal keeps it in the first disk's image, no leaves it out.")
    String memspec;

    @Override
    int execute() throws IOException {
        String n = pick("name", name, positionalName);
        String d = pick("description", description, positionalDescription);
        List<DiskSpec> specs = specs();
        MemSpec mem = memSpec();
        SnapshotService service = snapshots(domain);
        if (printXml) {
            out().print(printXml(n, d, specs, mem) + "\n");
            return 0;
        }
        List<SnapshotDisk> disks = new ArrayList<>();
        for (DiskSpec s : specs) {
            disks.add(s.toDisk());
        }
        SnapshotDef request = new SnapshotDef(n, d, null, 0, null, mem == null ? null : mem.mode(),
                mem == null ? null : mem.path(), disks, null);
        SnapshotDef made = service.create(request, flags.flags(false, false));
        out().print("Domain snapshot " + made.name() + " created");
        return 0;
    }

    /** The --print-xml document of these arguments. */
    String requestXml() {
        return printXml(pick("name", name, positionalName), pick("description", description, positionalDescription),
                specs(), memSpec());
    }

    /** The --memspec, refused beside --disk-only as virsh refuses it. */
    private MemSpec memSpec() {
        if (memspec == null) {
            return null;
        }
        if (flags.diskOnly) {
            throw new CliException("Options --memspec and --disk-only are mutually exclusive");
        }
        return MemSpec.parse(memspec);
    }

    private List<DiskSpec> specs() {
        List<DiskSpec> specs = new ArrayList<>();
        for (String s : diskspecs) {
            specs.add(DiskSpec.parse(s));
        }
        return specs;
    }

    private static String pick(String option, String flag, String positional) {
        if (flag != null && positional != null) {
            throw new CliException("option --" + option + " already provided");
        }
        return flag != null ? flag : positional;
    }

    /** The document virsh builds from the arguments (--print-xml). */
    static String printXml(String name, String description, List<DiskSpec> specs) {
        return printXml(name, description, specs, null);
    }

    static String printXml(String name, String description, List<DiskSpec> specs, MemSpec mem) {
        StringBuilder b = new StringBuilder("<domainsnapshot>\n");
        if (name != null) {
            b.append("  <name>").append(XmlText.escape(name)).append("</name>\n");
        }
        if (description != null) {
            b.append("  <description>").append(XmlText.escape(description)).append("</description>\n");
        }
        if (mem != null) {
            mem.appendXml(b);
        }
        if (!specs.isEmpty()) {
            b.append("  <disks>\n");
            specs.forEach(s -> s.appendXml(b));
            b.append("  </disks>\n");
        }
        return b.append("</domainsnapshot>\n").toString();
    }
}
