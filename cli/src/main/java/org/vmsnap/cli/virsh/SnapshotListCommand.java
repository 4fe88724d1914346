package org.vmsnap.cli.virsh;

import java.io.IOException;
import java.time.ZoneId;

import org.vmsnap.cli.HelpCommand;
import org.vmsnap.manager.SnapshotTree;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code snapshot-list DOMAIN [filters] [--tree | --name | --parent]}: virsh's table, names or tree. */
@Command(name = "snapshot-list", description = "List the snapshots of a domain (as virsh snapshot-list).",
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap snapshot-list vm1 --tree",
                "  vmsnap snapshot-list vm1 --parent --external"})
public final class SnapshotListCommand extends VirshSubcommand {

    @Parameters(paramLabel = "DOMAIN")
    String domain;

    @Option(names = "--parent", description = "Add a column showing the parent snapshot.")
    boolean parent;

    @Option(names = "--roots", description = "List only snapshots without parents.")
    boolean roots;

    @Option(names = "--leaves", description = "List only snapshots without children.")
    boolean leaves;

    @Option(names = "--no-leaves", description = "List only snapshots with children.")
    boolean noLeaves;

    @Option(names = "--metadata", description = "List only snapshots that have metadata.")
    boolean metadata;

    @Option(names = "--no-metadata", description = "List only snapshots without metadata (none are listed).")
    boolean noMetadata;

    @Option(names = "--inactive", description = "Snapshots taken while the domain was shut off.")
    boolean inactive;

    @Option(names = "--active", description = "Snapshots taken while the domain was running.")
    boolean active;

    @Option(names = "--disk-only", description = "Disk-only snapshots.")
    boolean diskOnly;

    @Option(names = "--internal", description = "Internal snapshots.")
    boolean internal;

    @Option(names = "--external", description = "External snapshots.")
    boolean external;

    @Option(names = "--tree", description = "List snapshots in a tree.")
    boolean tree;

    @Option(names = "--from", paramLabel = "SNAPSHOT", description = "Limit the list to children of a snapshot.")
    String from;

    @Option(names = "--current", description = "Limit the list to children of the current snapshot.")
    boolean current;

    @Option(names = "--descendants", description = "With --from or --current, list all descendants.")
    boolean descendants;

    @Option(names = "--name", description = "List snapshot names only.")
    boolean name;

    @Option(names = "--topological", description = "Parents before children, in libvirt's order.")
    boolean topological;

    SnapshotListing.Options options() {
        return new SnapshotListing.Options(parent, roots, leaves, noLeaves, metadata, noMetadata, inactive, active,
                diskOnly, internal, external, tree, from, current, descendants, name, topological);
    }

    @Override
    int execute() throws IOException {
        SnapshotListing.Options o = options();
        o.validate();
        SnapshotTree t = snapshots(domain).tree();
        out().print(SnapshotListing.render(t, o, ZoneId.systemDefault()));
        return 0;
    }
}
