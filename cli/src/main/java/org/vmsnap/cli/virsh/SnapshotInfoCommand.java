package org.vmsnap.cli.virsh;

import java.io.IOException;

import org.vmsnap.cli.HelpCommand;
import org.vmsnap.manager.SnapshotTree;
import org.vmsnap.manager.xml.SnapshotDef;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code snapshot-info DOMAIN {SNAPSHOT | --current}}. */
@Command(name = "snapshot-info", description = "Basic information about a snapshot (as virsh snapshot-info).",
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap snapshot-info vm1 installed",
                "  vmsnap snapshot-info vm1 --current"})
public final class SnapshotInfoCommand extends VirshSubcommand {

    @Mixin
    SnapshotTarget target;

    @Option(names = "--current", description = "The current snapshot.")
    boolean current;

    @Override
    int execute() throws IOException {
        SnapshotTree tree = target.service(this).tree();
        out().print(render(tree, target.lookup(tree, current), target.domain));
        return 0;
    }

    /** virsh's "%-15s %s" lines. */
    static String render(SnapshotTree tree, SnapshotDef s, String domainName) {
        StringBuilder b = new StringBuilder();
        line(b, "Name:", s.name());
        line(b, "Domain:", domainName);
        line(b, "Current:", s.name().equals(tree.current()) ? "yes" : "no");
        line(b, "State:", s.state() == null ? "" : s.state());
        // With a <memory> element an external memory or disk decides; without one (snapshots
        // older than libvirt 1.0.1) only disk-only snapshots were external.
        boolean external = s.memoryMode() != null ? SnapshotListing.isExternal(s) : "disk-snapshot".equals(s.state());
        line(b, "Location:", external ? "external" : "internal");
        line(b, "Parent:", s.parent() == null ? "-" : s.parent());
        line(b, "Children:", Integer.toString(tree.children(s.name()).size()));
        line(b, "Descendants:", Integer.toString(tree.descendants(s.name()).size()));
        line(b, "Metadata:", "yes");
        return b.toString();
    }

    private static void line(StringBuilder b, String label, String value) {
        b.append(String.format("%-15s %s%n", label, value).replace(System.lineSeparator(), "\n"));
    }
}
