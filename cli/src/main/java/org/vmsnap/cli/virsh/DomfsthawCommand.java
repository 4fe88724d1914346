package org.vmsnap.cli.virsh;

import org.vmsnap.cli.HelpCommand;
import java.io.IOException;

import java.util.ArrayList;
import java.util.List;

import org.vmsnap.manager.DomainService;
import org.vmsnap.manager.ManagerException;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code domfsthaw DOMAIN}: the guest agent thaws its filesystems. */
@Command(name = "domfsthaw", description = "Thaw the guest's filesystems through its agent (as virsh domfsthaw).",
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap domfsthaw vm1"})
public final class DomfsthawCommand extends LifecycleCommand {

    @Option(names = "--mountpoint", paramLabel = "MOUNTPOINT",
            description = "Refused, as by libvirt's QEMU driver: a thaw thaws every frozen filesystem.")
    List<String> mountpoints = new ArrayList<>();

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
        if (!mountpoints.isEmpty()) {
            domains.status(domain); // virsh looks the domain up first: "failed to get domain"
            throw new ManagerException("argument unsupported: specifying mountpoints is not supported");
        }
        thawed = domains.fsThaw(domain);
    }

    @Override
    String done() {
        return "Thawed " + thawed + " filesystem(s)";
    }
}
