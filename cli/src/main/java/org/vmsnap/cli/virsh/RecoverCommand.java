package org.vmsnap.cli.virsh;

import java.io.IOException;

import org.vmsnap.cli.HelpCommand;
import org.vmsnap.manager.RecoverReport;

import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code recover DOMAIN}: rebuilds the snapshot metadata from the images (internal snapshot
 * tables, backing chains, the XML mirror kept beside the first disk).
 */
@Command(name = "recover", description = "Rebuild a domain's snapshot metadata from its disk images.",
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap recover vm1          # after the state folder was lost"})
public final class RecoverCommand extends VirshSubcommand {

    @Parameters(paramLabel = "DOMAIN")
    String domain;

    @Override
    int execute() throws IOException {
        RecoverReport r = snapshots(domain).recover();
        out().print(render(domain, r));
        return 0;
    }

    static String render(String domain, RecoverReport r) {
        StringBuilder b = new StringBuilder();
        b.append("Domain '").append(domain).append("': ").append(r.snapshots().size())
                .append(r.snapshots().size() == 1 ? " snapshot" : " snapshots").append(" recovered");
        if (!r.snapshots().isEmpty()) {
            b.append(": ").append(String.join(", ", r.snapshots()));
        }
        b.append('\n');
        b.append("Current snapshot: ").append(r.current() == null ? "-" : r.current()).append('\n');
        r.notes().forEach(n -> b.append("note: ").append(n).append('\n'));
        return b.toString();
    }
}
