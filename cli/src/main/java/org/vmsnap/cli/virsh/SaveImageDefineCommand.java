package org.vmsnap.cli.virsh;

import java.io.IOException;
import java.nio.file.Path;

import org.vmsnap.cli.CliException;
import org.vmsnap.cli.HelpCommand;
import org.vmsnap.manager.ManagerException;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** {@code save-image-define FILE XML [--running|--paused]}. */
@Command(name = "save-image-define", description = "Replace the domain XML stored in a vmsnap state file (same"
        + " domain, same disks; as virsh save-image-define).",
        footerHeading = HelpCommand.EXAMPLES, footer = {"  vmsnap save-image-define vm1.state vm1.xml --paused"})
public final class SaveImageDefineCommand extends VirshSubcommand {

    @Parameters(index = "0", paramLabel = "FILE")
    String file;

    @Parameters(index = "1", paramLabel = "XML", description = "A file holding the new domain XML.")
    String xml;

    @Mixin
    SaveStateOptions state;

    @Override
    int execute() throws IOException {
        String text = readFile(xml);
        Boolean running = state.running();
        try {
            domains().saveImageDefine(org.vmsnap.cli.Cwd.path(file), text, running);
        } catch (ManagerException e) {
            throw new CliException(1, e.getMessage(), e);
        }
        out().print("State file " + file + " updated.\n");
        return 0;
    }
}
