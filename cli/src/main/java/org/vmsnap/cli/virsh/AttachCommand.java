package org.vmsnap.cli.virsh;

import org.vmsnap.cli.HelpCommand;
import java.io.IOException;
import java.nio.file.Path;

import org.vmsnap.cli.CliException;
import org.vmsnap.manager.ManagerException;
import org.vmsnap.manager.xml.Domain;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code attach NAME --qmp SOCKET [--agent SOCKET]}: adopts a QEMU vmsnap did not start, so the
 * snapshot verbs work on it; vmsnap never stops it unless asked.
 */
@Command(name = "attach", description = "Define a domain for a running QEMU that vmsnap did not start, from its QMP"
        + " socket; the snapshot verbs then work on it.",
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap attach scratch --qmp /run/scratch/qmp.sock --agent /run/scratch/qga.sock"})
public final class AttachCommand extends VirshSubcommand {

    @Parameters(paramLabel = "NAME", description = "The name of the new domain.")
    String name;

    @Option(names = "--qmp", required = true, paramLabel = "SOCKET", description = "QEMU's QMP socket (-qmp unix:...).")
    Path qmp;

    @Option(names = "--agent", paramLabel = "SOCKET", description = "The guest agent's socket, if any.")
    Path agent;

    @Override
    int execute() throws IOException {
        Domain d;
        try {
            d = domains().attach(name, qmp, agent);
        } catch (ManagerException e) {
            throw new CliException(1, "Failed to attach to the QEMU at " + qmp + ": " + e.getMessage(), e);
        }
        out().print("Domain '" + d.name() + "' attached to the running QEMU at " + qmp + "\n");
        return 0;
    }
}
