package org.vmsnap.cli.virsh;

import org.vmsnap.cli.HelpCommand;
import java.io.IOException;

import org.vmsnap.cli.CliException;
import org.vmsnap.manager.DomainService;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code start DOMAIN [--paused]}: QEMU runs detached, as under libvirt. */
@Command(name = "start", description = "Start a defined, shut-off domain (as virsh start).",
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap start vm1", "  vmsnap start vm1 --paused", "  vmsnap start vm1 --force-boot   # ignore its managed save image"})
public final class StartCommand extends LifecycleCommand {

    @Option(names = "--paused", description = "Leave the guest paused (resume starts it).")
    boolean paused;

    @Option(names = "--force-boot", description = "Boot even if a managed save image exists (it is removed).")
    boolean forceBoot;

    @Override
    String failedVerb() {
        return "start";
    }

    @Override
    void change(DomainService domains) throws IOException {
        if (domains.status(domain).active()) {
            // virsh asks for the domain's Id first and words this itself, without "Failed to start"
            throw new CliException(1, "Domain is already active");
        }
        domains.start(domain, paused, forceBoot);
    }

    @Override
    String done() {
        return "Domain '" + domain + "' started";
    }
}
