package org.vmsnap.cli.virsh;

import org.vmsnap.cli.HelpCommand;
import java.io.IOException;

import org.vmsnap.manager.DomainService;

import picocli.CommandLine.Command;

/** {@code resume DOMAIN}: the guest's CPUs run again. */
@Command(name = "resume", description = "Resume a paused domain (as virsh resume).",
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap resume vm1"})
public final class ResumeCommand extends LifecycleCommand {

    @Override
    String failedVerb() {
        return "resume";
    }

    @Override
    void change(DomainService domains) throws IOException {
        domains.resume(domain);
    }

    @Override
    String done() {
        return "Domain '" + domain + "' resumed";
    }
}
