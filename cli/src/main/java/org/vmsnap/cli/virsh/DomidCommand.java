package org.vmsnap.cli.virsh;

import org.vmsnap.cli.HelpCommand;
import java.io.IOException;

import org.vmsnap.cli.CliException;
import org.vmsnap.manager.DomainStatus;
import org.vmsnap.manager.NotFoundException;

import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code domid DOMAIN}: the Id while it runs, "-" otherwise. */
@Command(name = "domid", description = "Show a domain's Id (as virsh domid).",
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap domid vm1"})
public final class DomidCommand extends VirshSubcommand {

    @Parameters(paramLabel = "DOMAIN")
    String domain;

    @Override
    int execute() throws IOException {
        DomainStatus s;
        try {
            s = domains().status(domain);
        } catch (NotFoundException e) {
            throw new CliException(1, "failed to get domain '" + domain + "'", e);
        }
        out().print((s.active() ? Integer.toString(s.id()) : "-") + "\n");
        return 0;
    }
}
