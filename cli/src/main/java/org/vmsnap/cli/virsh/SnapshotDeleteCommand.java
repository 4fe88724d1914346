package org.vmsnap.cli.virsh;

import java.io.IOException;

import org.vmsnap.cli.CliException;
import org.vmsnap.cli.HelpCommand;
import org.vmsnap.manager.DeleteScope;
import org.vmsnap.manager.ManagerException;
import org.vmsnap.manager.NotFoundException;
import org.vmsnap.manager.SnapshotService;
import org.vmsnap.manager.xml.SnapshotDef;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code snapshot-delete DOMAIN {SNAPSHOT | --current} [--metadata] [--children | --children-only]}. */
@Command(name = "snapshot-delete", description = "Delete a snapshot (as virsh snapshot-delete).",
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap snapshot-delete vm1 upgraded",
                "  vmsnap snapshot-delete vm1 installed --children"})
public final class SnapshotDeleteCommand extends VirshSubcommand {

    @Mixin
    SnapshotTarget target;

    @Option(names = "--current", description = "Delete the current snapshot.")
    boolean current;

    @Option(names = "--children", description = "Delete the snapshot and all its descendants.")
    boolean children;

    @Option(names = "--children-only", description = "Delete the descendants but not the snapshot.")
    boolean childrenOnly;

    @Option(names = "--metadata", description = "Delete only the metadata, leave the images as they are.")
    boolean metadata;

    @Option(names = "--verbose", description = "Show the progress of the QEMU jobs that merge the images of a"
            + " running domain (as virsh blockcommit --verbose; on a terminal it is shown anyway, on stderr).")
    boolean verbose;

    @Override
    int execute() throws IOException {
        SnapshotService service = target.service(this);
        DeleteScope scope = children ? DeleteScope.CHILDREN : childrenOnly ? DeleteScope.CHILDREN_ONLY
                : DeleteScope.SNAPSHOT;
        service.withProgress(JobBar.of(verbose, out(), err()));
        // The snapshot is looked up in the state the delete reads under the lock, rather than
        // reading the whole state (lock, QEMU probe, recover check) once more only to look it up.
        String[] picked = {target.snapshot};
        try {
            service.delete(tree -> {
                SnapshotDef s = target.lookup(tree, current);
                picked[0] = s.name();
                if (children && childrenOnly) {
                    throw new CliException("Failed to delete snapshot " + s.name() + ": Flags"
                            + " 'VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN' and 'VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY'"
                            + " are mutually exclusive");
                }
                return s.name();
            }, scope, metadata);
        } catch (NotFoundException e) {
            throw e;
        } catch (ManagerException e) {
            throw new CliException(1, "Failed to delete snapshot" + (picked[0] == null ? "" : " " + picked[0]) + ": "
                    + e.getMessage(), e);
        }
        out().print("Domain snapshot " + picked[0] + (childrenOnly ? " children deleted\n" : " deleted\n"));
        return 0;
    }
}
