package org.vmsnap.manager;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.vmsnap.manager.plan.Step;
import org.vmsnap.manager.xml.SnapshotDef;
import org.vmsnap.manager.xml.SnapshotDisk;
import org.vmsnap.manager.xml.SnapshotMode;

/**
 * Plans snapshot-delete for every tree shape. Children move up to the deleted snapshot's parent.
 * Internal snapshots are deleted from their image. An external snapshot's frozen image that
 * exactly one image depends on (and no other snapshot needs as it is) is merged with that image,
 * by commit or by pull, whichever moves fewer bytes and keeps every internal snapshot intact;
 * otherwise it stays as the shared base. Every other snapshot's data and each disk's current
 * state read the same afterwards.
 */
final class DeletePlanner {
    private DeletePlanner() {
    }

    /** Plans the deletion of {@code names} (leaves first is not required: each is taken out of the tree in turn). */
    static void plan(PlanContext ctx, List<String> names, boolean metadataOnly) throws IOException {
        for (String name : names) {
            deleteOne(ctx, name, metadataOnly);
        }
        ctx.finishWithMetadata();
    }

    private static void deleteOne(PlanContext ctx, String name, boolean metadataOnly) throws IOException {
        DomainState st = ctx.after;
        SnapshotDef x = st.snapshots.remove(name);
        for (Map.Entry<String, SnapshotDef> e : st.snapshots.entrySet()) {
            if (name.equals(e.getValue().parent())) {
                e.setValue(e.getValue().withParent(x.parent()));
            }
        }
        if (name.equals(st.current)) {
            st.current = x.parent();
        }
        if (metadataOnly) {
            return;
        }
        for (SnapshotDisk d : x.disks()) {
            Path image = DomainState.imageAt(x, d.name());
            if (image == null || !ctx.graph().exists(image)) {
                continue; // nothing on disk any more (the metadata was all that was left)
            }
            if (d.mode() == SnapshotMode.INTERNAL) {
                ImageGraph.Node n = ctx.graph().node(image);
                if (ctx.mustDefer(image)) {
                    // Stays in the image (so it is not merged or removed) until no QEMU holds it.
                    st.pending.add(new org.vmsnap.manager.store.DomainStore.PendingDelete(image, name));
                } else if (n.internal.remove(name)) {
                    ctx.plan.add(new Step.DeleteInternal(d.name(), image, name));
                }
            } else if (d.mode() == SnapshotMode.EXTERNAL) {
                mergeFrozen(ctx, d.name(), image);
            }
        }
    }

    /** The frozen image of a deleted external snapshot: merge it with its one dependent, if it has one. */
    private static void mergeFrozen(PlanContext ctx, String disk, Path frozen)
            throws IOException {
        DomainState st = ctx.after;
        if (st.frozenByOther(frozen, null)) {
            return; // another snapshot needs this image as it is
        }
        List<ImageGraph.Node> deps = ctx.graph().dependents(frozen);
        if (deps.size() != 1) {
            return; // no dependent (the garbage pass decides) or a shared base of several branches
        }
        ImageGraph.Node base = ctx.graph().node(frozen);
        ImageGraph.Node top = deps.getFirst();
        boolean canCommit = top.internal.isEmpty() && st.owned.contains(top.path);
        boolean canPull = top.internal.isEmpty() && base.internal.isEmpty() && st.owned.contains(base.path);
        if (canCommit && (!canPull || top.ownBytes <= base.ownBytes)) {
            commit(ctx, disk, top, base);
        } else if (canPull) {
            pull(ctx, disk, top, base);
        }
    }

    /** top's data goes into base; whatever used top now uses base; top goes. */
    private static void commit(PlanContext ctx, String disk, ImageGraph.Node top, ImageGraph.Node base)
            throws IOException {
        ctx.plan.add(new Step.Commit(disk, top.path, base.path));
        for (ImageGraph.Node dep : new ArrayList<>(ctx.graph().dependents(top.path))) {
            ctx.plan.add(new Step.Rebase(disk, dep.path, base.path, base.format, false));
            dep.backing = base.path;
            dep.backingFormat = base.format;
        }
        ctx.graph().remove(top.path);
        ctx.after.replaceFile(top.path, base.path, base.format);
        ctx.mergedAway.add(top.path);
    }

    /** base's data goes into top (top now reads base's backing directly); base goes. */
    private static void pull(PlanContext ctx, String disk, ImageGraph.Node top, ImageGraph.Node base)
            throws IOException {
        ctx.plan.add(new Step.Rebase(disk, top.path, base.backing, base.backingFormat, true));
        top.backing = base.backing;
        top.backingFormat = base.backingFormat;
        ctx.graph().remove(base.path);
        ctx.after.replaceFile(base.path, top.path, top.format);
        ctx.mergedAway.add(base.path);
    }
}
