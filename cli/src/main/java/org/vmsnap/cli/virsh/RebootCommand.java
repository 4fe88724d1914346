package org.vmsnap.cli.virsh;

import org.vmsnap.cli.HelpCommand;
import java.io.IOException;

import org.vmsnap.manager.DomainService;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code reboot DOMAIN [--mode acpi|agent]}. */
@Command(name = "reboot", description = "Reboot a running domain's guest (as virsh reboot).",
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap reboot vm1", "  vmsnap reboot vm1 --mode acpi"})
public final class RebootCommand extends LifecycleCommand {

    @Option(names = "--mode", paramLabel = "acpi|agent",
            description = "agent (the default when the guest agent answers) or acpi (power button, then reset).")
    String mode;

    @Override
    String failedVerb() {
        return "reboot";
    }

    @Override
    void change(DomainService domains) throws IOException {
        domains.reboot(domain, mode);
    }

    @Override
    String done() {
        return "Domain '" + domain + "' is being rebooted";
    }
}
