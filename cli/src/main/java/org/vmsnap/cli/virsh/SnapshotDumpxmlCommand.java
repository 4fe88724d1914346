package org.vmsnap.cli.virsh;

import java.io.IOException;

import org.vmsnap.cli.HelpCommand;
import org.vmsnap.manager.xml.SnapshotXml;

import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code snapshot-dumpxml DOMAIN SNAPSHOT}: libvirt's domainsnapshot XML. */
@Command(name = "snapshot-dumpxml", description = "Dump the XML of a snapshot (as virsh snapshot-dumpxml).",
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap snapshot-dumpxml vm1 upgraded"})
public final class SnapshotDumpxmlCommand extends VirshSubcommand {

    @Parameters(index = "0", paramLabel = "DOMAIN")
    String domain;

    @Parameters(index = "1", paramLabel = "SNAPSHOT")
    String snapshot;

    @Override
    int execute() throws IOException {
        out().print(SnapshotXml.format(snapshots(domain).tree().get(snapshot)));
        return 0;
    }
}
