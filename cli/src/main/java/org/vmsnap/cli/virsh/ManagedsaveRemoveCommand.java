package org.vmsnap.cli.virsh;

import java.io.IOException;

import org.vmsnap.cli.CliException;
import org.vmsnap.cli.HelpCommand;
import org.vmsnap.manager.ManagerException;
import org.vmsnap.manager.NotFoundException;

import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code managedsave-remove DOMAIN}. */
@Command(name = "managedsave-remove", description = "Remove a domain's managed save image; start then boots it"
        + " (as virsh managedsave-remove).",
        footerHeading = HelpCommand.EXAMPLES, footer = {"  vmsnap managedsave-remove vm1"})
public final class ManagedsaveRemoveCommand extends VirshSubcommand {

    @Parameters(index = "0", paramLabel = "DOMAIN")
    String domain;

    @Override
    int execute() throws IOException {
        boolean removed;
        try {
            removed = domains().managedSaveRemove(domain);
        } catch (NotFoundException e) {
            throw new CliException(1, "failed to get domain '" + domain + "'", e);
        } catch (ManagerException e) {
            throw new CliException(1, "Failed to remove managed save image for domain '" + domain + "': "
                    + e.getMessage(), e);
        }
        out().print(removed ? "Removed managedsave image for domain '" + domain + "'\n"
                : "Domain '" + domain + "' has no manage save image; removal skipped\n");
        return 0;
    }
}
