package org.vmsnap.cli.virsh;

import java.io.IOException;

import org.vmsnap.cli.HelpCommand;
import org.vmsnap.manager.xml.Domain;

import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code define FILE.xml}: defines (or updates) a domain from libvirt domain XML. */
@Command(name = "define", description = "Define (but do not start) a domain from an XML file (as virsh define).",
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap define vm1.xml          # libvirt domain XML, e.g. from virsh dumpxml"})
public final class DefineCommand extends VirshSubcommand {

    @Parameters(paramLabel = "FILE", description = "libvirt domain XML, e.g. the output of virsh dumpxml.")
    String file;

    @Override
    int execute() throws IOException {
        Domain d = domains().define(readFile(file));
        out().print("Domain '" + d.name() + "' defined from " + file + "\n");
        return 0;
    }
}
