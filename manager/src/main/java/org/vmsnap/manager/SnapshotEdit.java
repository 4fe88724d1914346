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

    /** How a plan is made ready to run (for a running domain: turned into a live plan). */
    interface Ready {
        void prepare(PlanContext ctx) throws IOException;
    }

    /** Makes the plan context (with what the running QEMU holds). */
    interface Opener {
        PlanContext open(String what) throws IOException;
    }

    static SnapshotDef edit(DomainState s, String name, SnapshotDef edited, PlanRunner runner, Opener opener,
            Ready ready) throws IOException {
        SnapshotDef old = s.tree().get(name);
        String newName = edited.name() == null ? name : edited.name();
        Names.checkSnapshotName(newName);
        if (!newName.equals(name)) {
            if (s.snapshots.containsKey(newName)) {
                throw new InvalidInputException("snapshot '" + newName + "' already exists");
            }
        }
        if (edited.parent() != null && !edited.parent().equals(old.parent())
                || edited.creationTimeSec() != 0 && edited.creationTimeSec() != old.creationTimeSec()) {
            throw new InvalidInputException("snapshot '" + name + "': only the name and the description can be edited");
        }
        SnapshotDef now = old.withName(newName).withDescription(edited.description());
        PlanContext ctx = opener.open("snapshot-edit of " + name);
        if (!newName.equals(name)) {
            // Internal snapshots are found by name inside the images: they are renamed there too.
            for (SnapshotDisk d : old.disks()) {
                java.nio.file.Path image = DomainState.imageAt(old, d.name());
                if (d.mode() == SnapshotMode.INTERNAL && image != null) {
                    ImageGraph.Node n = ctx.graph().node(image);
                    if (n != null && n.internal.contains(newName)) {
                        throw new InvalidInputException("snapshot '" + name + "' cannot be renamed to '" + newName
                                + "': disk " + d.name() + ": " + image + " already holds an internal snapshot of"
                                + " that name");
                    }
                    ctx.plan.add(new org.vmsnap.manager.plan.Step.RenameInternal(d.name(), image, name, newName));
                }
            }
        }
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
        ctx.emitMetadata();
        ready.prepare(ctx);
        runner.run(ctx.plan);
        return now;
    }
}
