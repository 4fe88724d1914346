package org.vmsnap.manager;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Set;

import org.vmsnap.manager.plan.Plan;
import org.vmsnap.manager.plan.Step;
import org.vmsnap.qcow2.BlockDevice;
import org.vmsnap.qcow2.Images;
import org.vmsnap.qcow2.OpenOptions;

/**
 * Before a plan with steps that cannot be undone: every image those steps write can be opened
 * for writing now (not locked by a running QEMU, not read-only), so that the plan does not stop
 * half-way for a reason that was visible before it started.
 */
final class Preflight {
    private Preflight() {
    }

    static void checkWritable(Plan plan) throws IOException {
        Set<Path> written = new LinkedHashSet<>();
        for (Step s : plan.steps()) {
            switch (s) {
                case Step.ApplyInternal a -> written.add(a.image());
                case Step.DeleteInternal d -> written.add(d.image());
                case Step.Commit c -> {
                    written.add(c.base());
                    written.add(c.top());
                }
                case Step.Rebase r -> written.add(r.image());
                case Step.RenameInternal r -> written.add(r.image());
                default -> { }
            }
        }
        for (Path p : written) {
            try (BlockDevice d = Images.open(p, OpenOptions.readWrite().withOpenBacking(false))) {
                // opened for writing and closed unchanged
            } catch (IOException e) {
                throw new ManagerException(diskName(plan, p) + p + ": cannot be opened for writing: "
                        + e.getMessage() + " (nothing was changed)", e);
            }
        }
    }

    private static String diskName(Plan plan, Path p) {
        for (Step s : plan.steps()) {
            String disk = switch (s) {
                case Step.ApplyInternal a when a.image().equals(p) -> a.disk();
                case Step.DeleteInternal d when d.image().equals(p) -> d.disk();
                case Step.Commit c when c.base().equals(p) || c.top().equals(p) -> c.disk();
                case Step.Rebase r when r.image().equals(p) -> r.disk();
                case Step.RenameInternal r when r.image().equals(p) -> r.disk();
                default -> null;
            };
            if (disk != null) {
                return "disk " + disk + ": ";
            }
        }
        return "";
    }
}
