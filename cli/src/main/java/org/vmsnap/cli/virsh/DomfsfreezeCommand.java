package org.vmsnap.cli.virsh;

import org.vmsnap.cli.HelpCommand;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import org.vmsnap.manager.DomainService;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code domfsfreeze DOMAIN [--mountpoint M]...}: the guest agent freezes filesystems (until domfsthaw). */
@Command(name = "domfsfreeze", description = "Freeze the guest's filesystems through its agent (as virsh domfsfreeze).",
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap domfsfreeze vm1", "  vmsnap domfsfreeze vm1 --mountpoint /data"})
public final class DomfsfreezeCommand extends LifecycleCommand {

    @Option(names = "--mountpoint", paramLabel = "MOUNTPOINT", description = "Freeze only this mounted filesystem.")
    List<String> mountpoints = new ArrayList<>();

    private int frozen;

    @Override
    String failedVerb() {
        return "freeze filesystems of";
    }

    @Override
    String failure() {
        return "Unable to freeze filesystems"; // virsh's words: no domain name
    }

    @Override
    void change(DomainService domains) throws IOException {
        frozen = domains.fsFreeze(domain, mountpoints);
    }

    @Override
    String done() {
        return "Froze " + frozen + " filesystem(s)";
    }
}
