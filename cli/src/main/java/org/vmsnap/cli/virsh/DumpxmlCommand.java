package org.vmsnap.cli.virsh;

import java.io.IOException;

import org.vmsnap.cli.HelpCommand;

import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code dumpxml DOMAIN}: the domain's current definition, in libvirt's layout. */
@Command(name = "dumpxml", description = "Domain information in XML (as virsh dumpxml).",
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap dumpxml vm1"})
public final class DumpxmlCommand extends VirshSubcommand {

    @Parameters(paramLabel = "DOMAIN")
    String domain;

    @Override
    int execute() throws IOException {
        out().print(snapshots(domain).domain().toXml());
        return 0;
    }
}
