package org.vmsnap.cli.virsh;

import java.io.IOException;
import java.util.List;

import org.vmsnap.cli.HelpCommand;
import org.vmsnap.manager.SnapshotService;
import org.vmsnap.manager.xml.SnapshotDef;
import org.vmsnap.manager.xml.SnapshotXml;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code snapshot-create DOMAIN [FILE.xml] [--redefine [--current]] [--no-metadata] [--disk-only]
 * [--reuse-external] [--atomic]}.
 */
@Command(name = "snapshot-create", description = "Create a snapshot from XML (as virsh snapshot-create).",
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap snapshot-create vm1 snap.xml",
                "  vmsnap snapshot-create vm1 snap.xml --redefine --current"})
public final class SnapshotCreateCommand extends VirshSubcommand {

    @Parameters(index = "0", paramLabel = "DOMAIN")
    String domain;

    @Parameters(index = "1", arity = "0..1", paramLabel = "FILE", description = "domainsnapshot XML.")
    String file;

    @Option(names = "--redefine", description = "Redefine metadata for an existing snapshot.")
    boolean redefine;

    @Option(names = "--current", description = "With --redefine, set the current snapshot.")
    boolean current;

    @Mixin
    CreateFlagOptions flags;

    @Override
    int execute() throws IOException {
        SnapshotService service = snapshots(domain);
        SnapshotDef request = file == null ? new SnapshotDef(null, null, null, 0, null, null, null, List.of(), null)
                : SnapshotXml.parse(readFile(file));
        SnapshotDef made = service.create(request, flags.flags(redefine, current));
        out().print("Domain snapshot " + made.name() + " created" + (file == null ? "" : " from '" + file + "'"));
        return 0;
    }
}
