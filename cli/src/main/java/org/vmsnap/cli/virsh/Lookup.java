package org.vmsnap.cli.virsh;

import org.vmsnap.cli.CliException;
import org.vmsnap.manager.NotFoundException;
import org.vmsnap.manager.SnapshotTree;
import org.vmsnap.manager.xml.SnapshotDef;

/** virsh's {SNAPSHOT | --current} resolution (virshLookupSnapshot), with its messages. */
final class Lookup {
    private Lookup() {
    }

    /** The named snapshot, or the current one; both or neither is an error, as in virsh. */
    static SnapshotDef snapshot(SnapshotTree tree, String name, boolean current) throws NotFoundException {
        if (name != null && current) {
            throw new CliException("--snapshotname and --current are mutually exclusive");
        }
        if (name != null) {
            return tree.get(name);
        }
        if (current) {
            return current(tree);
        }
        throw new CliException("--snapshotname or --current is required");
    }

    static SnapshotDef current(SnapshotTree tree) throws NotFoundException {
        if (tree.current() == null) {
            throw new NotFoundException("Domain snapshot not found: the domain does not have a current snapshot");
        }
        return tree.get(tree.current());
    }
}
