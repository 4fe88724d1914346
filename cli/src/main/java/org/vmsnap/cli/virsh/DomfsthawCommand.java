package org.vmsnap.cli.virsh;

import org.vmsnap.cli.HelpCommand;
import java.io.IOException;

import org.vmsnap.manager.DomainService;

import picocli.CommandLine.Command;

/** {@code domfsthaw DOMAIN}: the guest agent thaws its filesystems. */
@Command(name = "domfsthaw", description = "Thaw the guest's filesystems through its agent (as virsh domfsthaw).",
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap domfsthaw vm1"})
public final class DomfsthawCommand extends LifecycleCommand {

    private int thawed;

    @Override
    String failedVerb() {
        return "thaw filesystems of";
    }

    @Override
    String failure() {
        return "Unable to thaw filesystems"; // virsh's words: no domain name
    }

    @Override
    void change(DomainService domains) throws IOException {
        thawed = domains.fsThaw(domain);
    }

    @Override
    String done() {
        return "Thawed " + thawed + " filesystem(s)";
    }
}
