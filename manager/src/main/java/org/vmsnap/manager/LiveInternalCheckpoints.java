package org.vmsnap.manager;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.vmsnap.manager.live.LiveQemu;
import org.vmsnap.manager.plan.Step;
import org.vmsnap.manager.xml.DiskDef;
import org.vmsnap.manager.xml.Names;
import org.vmsnap.manager.xml.SnapshotDef;
import org.vmsnap.manager.xml.SnapshotDisk;
import org.vmsnap.manager.xml.SnapshotMode;

/**
 * Internal checkpoints taken with {@code --live}: the disks' internal snapshots (as an internal
 * checkpoint's), the memory in vmsnap's memory file format beside the first disk's image, both of
 * the same instant, with the guest paused only for the save's last pass and the disks' snapshots.
 * <ul>
 * <li>Create: QEMU copies the memory while the guest runs and stops it for the last pass, holding
 *     the save there ({@code pause-before-switchover}: the images are still active, which a
 *     finished migration's are not, and QEMU 7.2 takes internal snapshots only of active ones);
 *     one transaction snapshots every disk; the save ends, the guest runs on ({@code cont}); the
 *     file is synced and linked; the metadata. Recorded as {@code <memory snapshot='external'
 *     file=.../>} with internal disks (libvirt's schema allows it; libvirt 9.0 itself refuses to
 *     make such a mix). Until the file is whole every step is undone, in this process or by the
 *     next command after a crash: the snapshots deleted, the migration cancelled (QEMU resumes the
 *     guest), the file removed.</li>
 * <li>Revert and delete are those of an external checkpoint ({@link ExternalCheckpoints}): the
 *     disks as for an internal snapshot (applied offline, QEMU stopped), QEMU started from the
 *     memory file; the file goes with the checkpoint (owned, pinned while a checkpoint names it).</li>
 * </ul>
 */
final class LiveInternalCheckpoints {
    private LiveInternalCheckpoints() {
    }

    /** Plans the checkpoint; {@code ctx} is a live context of {@code q}. */
    static SnapshotDef create(PlanContext ctx, LiveQemu q, SnapshotDef request, CreateFlags flags, long nowSec,
            boolean running, Path freezeAgent) throws IOException {
        if (freezeAgent != null) {
            // As for an external checkpoint with --live: the copy takes seconds.
            throw new InvalidInputException("--quiesce and --live cannot be used together: the guest's filesystems"
                    + " would stay frozen while its whole memory is copied");
        }
        if (!running) {
            throw new InvalidInputException("Requested operation is not valid: --live needs a running guest, and"
                    + " domain " + ctx.before.domain.name() + " is paused (without --live its checkpoint is taken"
                    + " while it stays paused)");
        }
        if (flags.reuseExternal()) {
            throw new InvalidInputException("unsupported configuration: mixing internal and external targets for a"
                    + " snapshot is not yet supported");
        }
        DomainState st = ctx.after;
        String name = request.name() != null ? request.name() : Long.toString(nowSec);
        Names.checkSnapshotName(name);
        if (st.snapshots.containsKey(name)) {
            throw new InvalidInputException("operation failed: domain moment " + name + " already exists");
        }
        for (SnapshotDisk asked : request.disks()) {
            if (asked.mode() == SnapshotMode.EXTERNAL || asked.mode() == SnapshotMode.MANUAL
                    || asked.source() != null) {
                throw new InvalidInputException("unsupported configuration: mixing internal and external targets for"
                        + " a snapshot is not yet supported (disk " + asked.name() + " in a --live internal"
                        + " checkpoint)");
            }
        }
        DiskDef first = firstSnapshotDisk(ctx, request);
        Path file = ctx.freshName(first.source(), name + ".mem");
        String domainXml = ctx.before.domain.toXml();
        SnapshotDef disks = new SnapshotDef(name, request.description(), null, 0, null, null, null,
                request.disks(), null);
        CreateFlags internal = new CreateFlags(false, false, flags.noMetadata(), false, false, false);
        if (!flags.noMetadata()) {
            // vmsnap makes it: owned, it goes when no checkpoint names it any more (see Garbage)
            ctx.graph().add(new ImageGraph.Node(file, "raw", null, null, 0));
            st.owned.add(file);
        }
        SnapshotDef made = CreatePlanner.plan(ctx, disks, internal, nowSec, new CreatePlanner.Memory(file, "running",
                false));
        LivePlans.convert(ctx, ctx.live, null);
        List<Step> before = new ArrayList<>();
        List<Step> after = new ArrayList<>();
        Step.SnapshotTransaction transaction = null;
        for (Step s : ctx.plan.steps()) {
            if (s instanceof Step.SnapshotTransaction t) {
                transaction = t;
            } else if (transaction == null) {
                before.add(s);
            } else {
                after.add(s);
            }
        }
        if (transaction == null || !before.isEmpty()) {
            throw new InvalidInputException("domain " + st.domain.name() + " has no disk QEMU can snapshot with the"
                    + " checkpoint (every disk is snapshot='no', or QEMU does not run them)");
        }
        Path partial = ctx.partialFor(file);
        long pid = q.pid();
        List<Step> steps = new ArrayList<>();
        steps.add(new Step.SaveToSwitchover(pid, q.record().runDir(), file, partial, domainXml));
        steps.add(new Step.SnapshotAtSwitchover(pid, transaction.actions()));
        steps.add(new Step.FinishSwitchover(pid, file, partial));
        // The first step that is not undone: from here the checkpoint is whole and goes on.
        steps.add(new Step.ResumeAfterSave(pid, true));
        steps.addAll(after);
        steps.add(new Step.DropLink(partial));
        ctx.plan.replaceSteps(steps);
        return made;
    }

    /** The first disk the checkpoint snapshots (internal by default): its image's folder gets the memory file. */
    private static DiskDef firstSnapshotDisk(PlanContext ctx, SnapshotDef request) throws InvalidInputException {
        for (DiskDef d : ctx.before.domain.disks()) {
            boolean no = request.disks().stream().anyMatch(a -> (a.name().equals(d.target())
                    || a.name().equals(d.source().toString())) && a.mode() == SnapshotMode.NO);
            if (!no && !d.readOnly() && "disk".equals(d.device())) {
                return d;
            }
        }
        throw new InvalidInputException("domain " + ctx.before.domain.name() + " has no writable disk to snapshot"
                + " with the checkpoint");
    }
}
