package org.vmsnap.cli.virsh;

import org.vmsnap.cli.HelpCommand;
import java.io.IOException;

import org.vmsnap.cli.CliException;
import org.vmsnap.manager.DomainStatus;
import org.vmsnap.manager.NotFoundException;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code domstate DOMAIN [--reason]}: "running", or "running (booted)". */
@Command(name = "domstate", description = "Show a domain's state (as virsh domstate).",
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap domstate vm1 --reason"})
public final class DomstateCommand extends VirshSubcommand {

    @Parameters(paramLabel = "DOMAIN")
    String domain;

    @Option(names = "--reason", description = "Also say why it is in that state.")
    boolean reason;

    @Override
    int execute() throws IOException {
        DomainStatus s;
        try {
            s = domains().status(domain);
        } catch (NotFoundException e) {
            throw new CliException(1, "failed to get domain '" + domain + "'", e);
        }
        out().print((reason ? s.withReason() : s.state().words()) + "\n");
        return 0;
    }
}
