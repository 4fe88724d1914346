package org.vmsnap.cli.virsh;

import org.vmsnap.cli.HelpCommand;
import java.io.IOException;

import org.vmsnap.manager.DomainService;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code destroy DOMAIN [--graceful]}: stops QEMU at once (SIGTERM, then SIGKILL unless --graceful). */
@Command(name = "destroy", description = "Stop a running domain's QEMU at once (as virsh destroy).",
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap destroy vm1", "  vmsnap destroy vm1 --graceful"})
public final class DestroyCommand extends LifecycleCommand {

    @Option(names = "--graceful", description = "Only SIGTERM: fail rather than kill QEMU.")
    boolean graceful;

    @Override
    String failedVerb() {
        return "destroy";
    }

    @Override
    void change(DomainService domains) throws IOException {
        domains.destroy(domain, graceful);
    }

    @Override
    String done() {
        return "Domain '" + domain + "' destroyed";
    }
}
