package org.vmsnap.cli.virsh;

import java.io.IOException;

import org.vmsnap.cli.CliException;
import org.vmsnap.cli.HelpCommand;
import org.vmsnap.manager.SnapshotService;
import org.vmsnap.manager.SnapshotTree;
import org.vmsnap.manager.xml.SnapshotXml;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code snapshot-current DOMAIN [--name] [SNAPSHOT]}: show the current snapshot, or make one current. */
@Command(name = "snapshot-current", description = "Get or set the current snapshot (as virsh snapshot-current).",
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap snapshot-current vm1 --name",
                "  vmsnap snapshot-current vm1 installed   # make it current"})
public final class SnapshotCurrentCommand extends VirshSubcommand {

    @Parameters(index = "0", paramLabel = "DOMAIN")
    String domain;

    @Parameters(index = "1", arity = "0..1", paramLabel = "SNAPSHOT", description = "The snapshot to make current.")
    String snapshot;

    @Option(names = "--name", description = "Print the name rather than the XML.")
    boolean name;

    @Override
    int execute() throws IOException {
        if (name && snapshot != null) {
            throw new CliException("Options --name and --snapshotname are mutually exclusive");
        }
        SnapshotService service = snapshots(domain);
        if (snapshot != null) {
            service.setCurrent(snapshot);
            out().print("Snapshot " + snapshot + " set as current");
            return 0;
        }
        SnapshotTree tree = service.tree();
        if (tree.current() == null) {
            throw new CliException("domain '" + domain + "' has no current snapshot");
        }
        out().print(name ? tree.current() : SnapshotXml.format(tree.get(tree.current())));
        return 0;
    }
}
