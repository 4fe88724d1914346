package org.vmsnap.cli.virsh;

import org.vmsnap.cli.HelpCommand;
import java.io.IOException;

import org.vmsnap.manager.DomainService;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code shutdown DOMAIN [--mode acpi|agent]}: asks the guest to power off and returns. */
@Command(name = "shutdown", description = "Ask a running domain's guest to shut down (as virsh shutdown).",
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap shutdown vm1", "  vmsnap shutdown vm1 --mode agent"})
public final class ShutdownCommand extends LifecycleCommand {

    @Option(names = "--mode", paramLabel = "acpi|agent",
            description = "acpi (the power button, the default) or agent (the guest agent powers off).")
    String mode;

    @Override
    String failedVerb() {
        return "shutdown";
    }

    @Override
    void change(DomainService domains) throws IOException {
        domains.shutdown(domain, mode);
    }

    @Override
    String done() {
        return "Domain '" + domain + "' is being shutdown";
    }
}
