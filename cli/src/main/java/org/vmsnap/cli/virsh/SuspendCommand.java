package org.vmsnap.cli.virsh;

import org.vmsnap.cli.HelpCommand;
import java.io.IOException;

import org.vmsnap.manager.DomainService;

import picocli.CommandLine.Command;

/** {@code suspend DOMAIN}: the guest's CPUs stop. */
@Command(name = "suspend", description = "Pause a running domain (as virsh suspend).",
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap suspend vm1"})
public final class SuspendCommand extends LifecycleCommand {

    @Override
    String failedVerb() {
        return "suspend";
    }

    @Override
    void change(DomainService domains) throws IOException {
        domains.suspend(domain);
    }

    @Override
    String done() {
        return "Domain '" + domain + "' suspended";
    }
}
