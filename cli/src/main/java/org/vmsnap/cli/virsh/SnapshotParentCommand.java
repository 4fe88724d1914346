package org.vmsnap.cli.virsh;

import java.io.IOException;

import org.vmsnap.cli.CliException;
import org.vmsnap.cli.HelpCommand;
import org.vmsnap.manager.SnapshotTree;
import org.vmsnap.manager.xml.SnapshotDef;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code snapshot-parent DOMAIN {SNAPSHOT | --current}}: the parent's name. */
@Command(name = "snapshot-parent", description = "The name of the parent of a snapshot (as virsh snapshot-parent).",
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap snapshot-parent vm1 upgraded"})
public final class SnapshotParentCommand extends VirshSubcommand {

    @Mixin
    SnapshotTarget target;

    @Option(names = "--current", description = "The current snapshot.")
    boolean current;

    @Override
    int execute() throws IOException {
        SnapshotTree tree = target.service(this).tree();
        SnapshotDef s = target.lookup(tree, current);
        if (s.parent() == null) {
            throw new CliException("snapshot '" + s.name() + "' has no parent");
        }
        out().print(s.parent());
        return 0;
    }
}
