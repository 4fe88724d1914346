package org.vmsnap.cli.virsh;

import java.io.IOException;
import java.nio.file.Path;

import org.vmsnap.cli.CliException;
import org.vmsnap.cli.HelpCommand;
import org.vmsnap.manager.ManagerException;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code save-image-dumpxml FILE [--security-info]}. */
@Command(name = "save-image-dumpxml", description = "Print the domain XML of a state file, vmsnap's or"
        + " libvirt's (as virsh save-image-dumpxml).",
        footerHeading = HelpCommand.EXAMPLES, footer = {"  vmsnap save-image-dumpxml vm1.state"})
public final class SaveImageDumpxmlCommand extends VirshSubcommand {

    @Parameters(index = "0", paramLabel = "FILE")
    String file;

    @Option(names = "--security-info", description = "Accepted for virsh's sake (vmsnap stores no secrets apart).")
    boolean securityInfo;

    @Override
    int execute() throws IOException {
        String xml;
        try {
            xml = domains().saveImageXml(org.vmsnap.cli.Cwd.path(file));
        } catch (ManagerException e) {
            throw new CliException(1, e.getMessage(), e);
        }
        out().print(xml.endsWith("\n") ? xml : xml + "\n");
        return 0;
    }
}
