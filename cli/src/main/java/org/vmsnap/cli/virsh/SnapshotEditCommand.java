package org.vmsnap.cli.virsh;

import java.io.IOException;

import org.vmsnap.cli.CliException;
import org.vmsnap.cli.HelpCommand;
import org.vmsnap.manager.SnapshotService;
import org.vmsnap.manager.SnapshotTree;
import org.vmsnap.manager.xml.SnapshotDef;
import org.vmsnap.manager.xml.SnapshotXml;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code snapshot-edit DOMAIN {SNAPSHOT | --current} (--rename NEW | --xml FILE)}: virsh opens an
 * editor on the snapshot's XML; vmsnap takes the edited XML from a file, or just the new name.
 * Only the name and the description can change (the images say what the rest is).
 */
@Command(name = "snapshot-edit", description = "Edit the XML of a snapshot: rename it or change its description.",
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap snapshot-edit vm1 installed --rename base",
                "  vmsnap snapshot-edit vm1 --current --xml edited.xml"})
public final class SnapshotEditCommand extends VirshSubcommand {

    @Mixin
    SnapshotTarget target;

    @Option(names = "--current", description = "Edit the current snapshot (with SNAPSHOT: also make it current).")
    boolean current;

    @Option(names = "--rename", paramLabel = "NEW", description = "The snapshot's new name.")
    String rename;

    @Option(names = "--xml", paramLabel = "FILE", description = "The edited domainsnapshot XML (instead of an editor).")
    String xml;

    @Override
    int execute() throws IOException {
        if (rename == null && xml == null) {
            throw new CliException("snapshot-edit needs --rename NEW or --xml FILE (vmsnap starts no editor)");
        }
        SnapshotService service = target.service(this);
        SnapshotTree tree = service.tree();
        // With SNAPSHOT, --current means "also make it current" rather than "the current one".
        SnapshotDef old = target.lookup(tree, current && target.snapshot == null);
        String name = old.name();
        SnapshotDef edited = xml == null ? old : SnapshotXml.parse(readFile(xml));
        String newName = edited.name() == null ? name : edited.name();
        if (rename != null) {
            if (!newName.equals(name) && !newName.equals(rename)) {
                throw new CliException("Failed to update " + name + ": --rename " + rename
                        + " but the XML names the snapshot " + newName);
            }
            newName = rename;
        } else if (!newName.equals(name)) {
            throw new CliException("Failed to update " + name + ": Must use --rename to change " + name + " to "
                    + newName);
        }
        edited = edited.withName(newName);
        boolean makeCurrent = current && target.snapshot != null;
        if (newName.equals(name) && !makeCurrent
                && SnapshotXml.format(edited.withDomain(old.domain())).equals(SnapshotXml.format(old))) {
            out().print("Snapshot " + name + " XML configuration not changed.\n");
            return 0;
        }
        service.edit(name, edited);
        if (makeCurrent) {
            service.setCurrent(newName);
        }
        if (newName.equals(name)) {
            out().print("Snapshot " + name + " edited.\n");
        }
        // virsh prints nothing after a rename.
        return 0;
    }
}
