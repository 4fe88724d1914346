package org.vmsnap.cli.virsh;

import java.io.IOException;

import org.vmsnap.cli.CliException;
import org.vmsnap.cli.HelpCommand;
import org.vmsnap.manager.ManagerException;
import org.vmsnap.manager.NotFoundException;
import org.vmsnap.manager.SnapshotService;
import org.vmsnap.manager.xml.SnapshotDef;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code snapshot-revert DOMAIN {SNAPSHOT | --current} [--running | --paused] [--force]}: a running
 * domain is stopped first, and runs again afterwards only with --running or --paused; a checkpoint
 * (disks and memory) brings the guest back to its running moment, by default in the state it
 * recorded (in the running QEMU when it can load it there).
 */
@Command(name = "snapshot-revert", description = "Revert a domain to a snapshot (as virsh snapshot-revert).",
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap snapshot-revert vm1 installed",
                "  vmsnap snapshot-revert vm1 --current --running"})
public final class SnapshotRevertCommand extends VirshSubcommand {

    @Mixin
    SnapshotTarget target;

    @Option(names = "--current", description = "Revert to the current snapshot.")
    boolean current;

    @Option(names = "--force", description = "Try harder on risky reverts: a domain with a managed save image is reverted, and the image removed (its guest would resume on the reverted disks).")
    boolean force;

    @Option(names = "--running", description = "Start the domain after reverting.")
    boolean running;

    @Option(names = "--paused", description = "Start the domain paused after reverting.")
    boolean paused;

    /**
     * Whether this revert may start QEMU (for the launcher's daemon, which leaves such commands to
     * the user's own JVM): with --running or --paused, or to a snapshot that holds memory. A revert
     * to a disk-only or shut-off snapshot leaves the domain shut off. True when that cannot be told
     * (no such domain or snapshot: the user's JVM says so).
     */
    public boolean mayStartQemu(org.vmsnap.manager.DomainService domains) {
        if (running || paused) {
            return true;
        }
        try {
            String state = target.lookup(domains.snapshots(target.domain).tree(), current).state();
            return !state.equals("shutoff") && !state.equals("disk-snapshot");
        } catch (IOException | RuntimeException e) {
            return true;
        }
    }

    @Override
    int execute() throws IOException {
        SnapshotService service = target.service(this);
        SnapshotService.After after = running ? SnapshotService.After.RUNNING
                : paused ? SnapshotService.After.PAUSED : SnapshotService.After.AS_RECORDED;
        // The snapshot is looked up in the state the revert reads under the lock (as delete does),
        // not in a whole read of its own (lock, QEMU probe, recover check) first.
        String[] picked = {target.snapshot};
        try {
            service.revert(tree -> {
                SnapshotDef s = target.lookup(tree, current);
                if (running && paused) {
                    throw new CliException("Options --running and --paused are mutually exclusive");
                }
                picked[0] = s.name();
                return s.name();
            }, force, after);
        } catch (NotFoundException e) {
            throw e;
        } catch (ManagerException e) {
            throw new CliException(1, "Failed to revert snapshot" + (picked[0] == null ? "" : " " + picked[0]) + ": "
                    + e.getMessage(), e);
        }
        out().print("Domain snapshot " + picked[0] + " reverted\n");
        return 0;
    }
}
