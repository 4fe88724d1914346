package org.vmsnap.manager;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.vmsnap.manager.plan.Step;
import org.vmsnap.manager.xml.DiskDef;
import org.vmsnap.manager.xml.Domain;
import org.vmsnap.manager.xml.SnapshotDef;
import org.vmsnap.manager.xml.SnapshotDisk;
import org.vmsnap.manager.xml.SnapshotMode;

/**
 * Plans snapshot-revert. The domain definition becomes the snapshot's, each disk's image the
 * snapshot's data:
 * <ul>
 * <li>internal: applied in place when nothing else reads the file holding it (no overlay on
 *     it, not the image of an external snapshot); otherwise a new overlay over the holder
 *     receives what differs between the snapshot and the holder's active state, and the
 *     holder is never written;</li>
 * <li>external: a new empty overlay over the frozen image (a new branch; other branches keep
 *     their images).</li>
 * </ul>
 * New images are made first (reversible); applying internal snapshots is the point of no
 * return; the images of the abandoned state are removed last, if vmsnap made them and nothing
 * needs them.
 */
final class RevertPlanner {
    private RevertPlanner() {
    }

    static void plan(PlanContext ctx, SnapshotDef snap) throws IOException {
        DomainState st = ctx.after;
        if (snap.domain() == null) {
            throw new InvalidInputException("snapshot '" + snap.name() + "' has no domain definition to revert to");
        }
        Domain target = snap.domain();
        List<Step.ApplyInternal> applies = new ArrayList<>();
        List<SnapshotDisk> newDisks = new ArrayList<>();
        for (SnapshotDisk sd : snap.disks()) {
            DiskDef at = target.disk(sd.name()).orElse(null);
            if (at == null || sd.mode() == SnapshotMode.NO || sd.mode() == SnapshotMode.MANUAL) {
                newDisks.add(sd);
                if (at != null) {
                    // Not snapshotted: the disk keeps the image it has now.
                    DiskDef now = st.domain.disk(sd.name()).orElse(at);
                    target = target.withDisk(sd.name(), now.source(), now.format());
                }
                continue;
            }
            Path image = at.source();
            if (!Files.isRegularFile(image)) {
                throw new ManagerException("disk " + sd.name() + ": image " + image + " of snapshot '" + snap.name()
                        + "' is missing");
            }
            if (sd.mode() == SnapshotMode.INTERNAL) {
                ImageGraph.Node n = ctx.graph().node(image);
                if (n == null || !n.internal.contains(snap.name())) {
                    throw new ManagerException("disk " + sd.name() + ": " + image
                            + " holds no internal snapshot named '" + snap.name() + "'");
                }
                if (ctx.graph().dependents(image).isEmpty() && !st.frozenByOther(image, null)) {
                    applies.add(new Step.ApplyInternal(sd.name(), image, snap.name()));
                    target = target.withDisk(sd.name(), image, "qcow2");
                } else {
                    Path copy = ctx.freshName(image, snap.name());
                    ctx.plan.add(new Step.SnapshotOverlay(sd.name(), image, snap.name(), copy,
                            ctx.partialFor(copy)));
                    ctx.graph().add(new ImageGraph.Node(copy, "qcow2", image, "qcow2", 0));
                    st.owned.add(copy);
                    target = target.withDisk(sd.name(), copy, "qcow2");
                }
                newDisks.add(sd);
            } else {
                Path overlay = sd.source() != null && !Files.exists(sd.source()) && !ctx.graph().exists(sd.source())
                        ? sd.source() : ctx.freshName(image, snap.name());
                ctx.plan.add(new Step.CreateOverlay(sd.name(), overlay, image, at.format(), false,
                        ctx.partialFor(overlay)));
                ctx.graph().add(new ImageGraph.Node(overlay, "qcow2", image, at.format(), 0));
                st.owned.add(overlay);
                target = target.withDisk(sd.name(), overlay, "qcow2");
                newDisks.add(sd.withSource(overlay));
            }
        }
        for (Step.ApplyInternal a : applies) {
            ctx.plan.add(a);
        }
        st.domain = target;
        st.snapshots.put(snap.name(), snap.withDisks(newDisks));
        st.current = snap.name();
        ctx.finishWithMetadata();
    }
}
