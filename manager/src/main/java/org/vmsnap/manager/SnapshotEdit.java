package org.vmsnap.manager;

import java.io.IOException;
import java.util.Map;

import org.vmsnap.manager.plan.PlanRunner;
import org.vmsnap.manager.store.DomainStore;
import org.vmsnap.manager.xml.Names;
import org.vmsnap.manager.xml.SnapshotDef;
import org.vmsnap.manager.xml.SnapshotDisk;
import org.vmsnap.manager.xml.SnapshotMode;

/**
 * snapshot-edit: the name and the description are editable; what the snapshot is (state,
 * time, parent, disks, domain) is not, since the images say otherwise.
 */
final class SnapshotEdit {
    private SnapshotEdit() {
    }

    static SnapshotDef edit(DomainStore store, DomainState s, String name, SnapshotDef edited, PlanRunner runner)
            throws IOException {
        SnapshotDef old = s.tree().get(name);
        String newName = edited.name() == null ? name : edited.name();
        Names.checkSnapshotName(newName);
        if (!newName.equals(name)) {
            if (s.snapshots.containsKey(newName)) {
                throw new InvalidInputException("snapshot '" + newName + "' already exists");
            }
            for (SnapshotDisk d : old.disks()) {
                if (d.mode() == SnapshotMode.INTERNAL) {
                    throw new InvalidInputException("snapshot '" + name + "' cannot be renamed: disk " + d.name()
                            + " holds it as an internal snapshot named '" + name + "' inside its image");
                }
            }
        }
        if (edited.parent() != null && !edited.parent().equals(old.parent())
                || edited.creationTimeSec() != 0 && edited.creationTimeSec() != old.creationTimeSec()) {
            throw new InvalidInputException("snapshot '" + name + "': only the name and the description can be edited");
        }
        SnapshotDef now = old.withName(newName).withDescription(edited.description());
        PlanContext ctx = PlanContext.open(store, s, "snapshot-edit of " + name);
        ctx.after.snapshots.remove(name);
        ctx.after.snapshots.put(newName, now);
        for (Map.Entry<String, SnapshotDef> e : ctx.after.snapshots.entrySet()) {
            if (name.equals(e.getValue().parent())) {
                e.setValue(e.getValue().withParent(newName));
            }
        }
        if (name.equals(ctx.after.current)) {
            ctx.after.current = newName;
        }
        ctx.after.emitChanges(ctx.before, store, PlanContext.mirror(ctx.after), ctx.plan);
        runner.run(ctx.plan);
        return now;
    }
}
