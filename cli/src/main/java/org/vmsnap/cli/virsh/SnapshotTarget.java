package org.vmsnap.cli.virsh;

import java.io.IOException;

import org.vmsnap.manager.NotFoundException;
import org.vmsnap.manager.SnapshotService;
import org.vmsnap.manager.SnapshotTree;
import org.vmsnap.manager.xml.SnapshotDef;

import picocli.CommandLine.Parameters;

/**
 * The {@code DOMAIN [SNAPSHOT]} arguments of the verbs that act on one snapshot, named or
 * {@code --current}. Each verb declares its own {@code --current}: its help says what the verb
 * does with the current snapshot.
 */
final class SnapshotTarget {

    @Parameters(index = "0", paramLabel = "DOMAIN")
    String domain;

    @Parameters(index = "1", arity = "0..1", paramLabel = "SNAPSHOT")
    String snapshot;

    /** The domain's snapshot service ("failed to get domain" when there is none). */
    SnapshotService service(VirshSubcommand command) throws IOException {
        return command.snapshots(domain);
    }

    /** The named snapshot, or with {@code current} the current one, as {@link Lookup#snapshot} checks. */
    SnapshotDef lookup(SnapshotTree tree, boolean current) throws NotFoundException {
        return Lookup.snapshot(tree, snapshot, current);
    }
}
