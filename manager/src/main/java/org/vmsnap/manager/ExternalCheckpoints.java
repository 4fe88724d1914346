package org.vmsnap.manager;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.vmsnap.manager.live.LiveQemu;
import org.vmsnap.manager.plan.Step;
import org.vmsnap.manager.xml.SnapshotDef;
import org.vmsnap.manager.xml.SnapshotDisk;
import org.vmsnap.manager.xml.SnapshotMode;
import org.vmsnap.qmp.MemoryFileWriter;

/**
 * External checkpoints of a running domain ({@code --memspec file=F,snapshot=external}): the
 * guest's memory goes to F in vmsnap's memory file format, every disk gets a new overlay, both
 * at the same paused moment, and the guest runs on.
 * <ul>
 * <li>Create: [pause] QEMU migrates its state into the memory file; at that moment one transaction
 *     takes every disk's snapshot; the metadata; the guest runs again (or stays paused). Until
 *     the transaction, a failure or a crash undoes all (no memory file, the guest as before).
 *     With {@code --live} on a running guest: the steps of a --live internal checkpoint (QEMU
 *     stops the guest for the last pass only and holds the save there for the transaction; cont
 *     before the file is synced; undone until the file is whole).</li>
 * <li>Revert: the disks go back as for an external disk snapshot (new overlays over the frozen
 *     images: a new branch), QEMU starts waiting for a migration stream and loads the memory
 *     file; the guest continues from the checkpoint's moment.</li>
 * <li>Delete: the disks as for an external disk snapshot; the memory file, which vmsnap made,
 *     goes with the checkpoint (it is in the owned list, pinned while a checkpoint names it).</li>
 * </ul>
 */
final class ExternalCheckpoints {
    private ExternalCheckpoints() {
    }

    /**
     * Plans the checkpoint; {@code ctx} is a live context of {@code q}.
     *
     * @param freezeAgent the agent to freeze the guest's filesystems through (--quiesce), or null; the
     *                    memory then holds them frozen, and a revert thaws them (Lifecycle.recordRunState)
     */
    static SnapshotDef create(PlanContext ctx, LiveQemu q, SnapshotDef request, CreateFlags flags, long nowSec,
            boolean running, Path freezeAgent) throws IOException {
        if (freezeAgent != null && flags.live()) {
            // The filesystems would stay frozen through the whole copy, which --live is there to
            // keep short; and once in CI the guest reset itself right after such a checkpoint.
            throw new InvalidInputException("--quiesce and --live cannot be used together: the guest's filesystems"
                    + " would stay frozen while its whole memory is copied");
        }
        DomainState st = ctx.after;
        String name = request.name() != null ? request.name() : Long.toString(nowSec);
        org.vmsnap.manager.xml.Names.checkSnapshotName(name);
        Path file = request.memoryFile();
        if (file == null) {
            throw new InvalidInputException("an external checkpoint needs its memory file: --memspec"
                    + " file=PATH,snapshot=external");
        }
        file = file.toAbsolutePath().normalize();
        try {
            MemoryFileWriter.refuseExisting(file);
        } catch (FileAlreadyExistsException e) {
            throw new InvalidInputException(file + ": file exists; vmsnap does not overwrite it");
        }
        if (!Files.isDirectory(file.getParent())) {
            throw new InvalidInputException(file + ": No such file or directory (its folder does not exist)");
        }
        if (st.namedFiles().contains(file)) {
            throw new InvalidInputException(file + ": already used by domain " + st.domain.name());
        }
        // Every writable disk external unless the request says no (CreatePlanner's disk-only
        // defaults). Internal ones cannot join: a finished migration has inactivated the images,
        // and QEMU 7.2 then refuses internal snapshots.
        for (SnapshotDisk asked : request.disks()) {
            if (asked.mode() == SnapshotMode.INTERNAL || asked.mode() == SnapshotMode.MANUAL) {
                throw new InvalidInputException("unsupported configuration: mixing internal and external targets for"
                        + " a snapshot is not yet supported (disk " + asked.name() + " with an external memory"
                        + " file)");
            }
        }
        String state = running ? "running" : "paused";
        String domainXml = ctx.before.domain.toXml();
        SnapshotDef disksOnly = new SnapshotDef(name, request.description(), null, 0, null, null, null,
                request.disks(), null);
        CreateFlags asDiskOnly = new CreateFlags(false, false, flags.noMetadata(), true, flags.reuseExternal(), false);
        if (!flags.noMetadata()) {
            // vmsnap makes it: owned, it goes when no checkpoint names it any more (see Garbage)
            ctx.graph().add(new ImageGraph.Node(file, "raw", null, null, 0));
            st.owned.add(file);
        }
        SnapshotDef made = CreatePlanner.plan(ctx, disksOnly, asDiskOnly, nowSec, new CreatePlanner.Memory(file, state,
                freezeAgent != null));
        LivePlans.convert(ctx, ctx.live, null);
        // The new overlays are made and opened by QEMU before the memory is saved, and the guest
        // runs again right after the transaction (the metadata follows): it pauses only for the
        // save's last pass and the transaction.
        List<Step> before = new ArrayList<>();
        List<Step> after = new ArrayList<>();
        Step transaction = null;
        for (Step s : ctx.plan.steps()) {
            if (s instanceof Step.SnapshotTransaction) {
                transaction = s;
            } else if (transaction == null) {
                before.add(s);
            } else {
                after.add(s);
            }
        }
        if (transaction == null) {
            throw new InvalidInputException("domain " + st.domain.name() + " has no disk to snapshot with the"
                    + " checkpoint (every disk is snapshot='no')");
        }
        Path partial = ctx.partialFor(file);
        List<Step> steps = new ArrayList<>(before);
        if (flags.live() && running) {
            // As a --live internal checkpoint (LiveInternalCheckpoints): the overlays' transaction
            // while QEMU holds the save at its last pause, cont as soon as the save ends, the file
            // synced and linked after; until then every step is undone (an overlay that QEMU put
            // on top is committed back by an active block-commit, the guest's writes kept).
            steps.add(new Step.SaveToSwitchover(q.pid(), q.record().runDir(), file, partial, domainXml));
            steps.add(new Step.SnapshotAtSwitchover(q.pid(), ((Step.SnapshotTransaction) transaction).actions()));
            steps.add(new Step.FinishSwitchover(q.pid(), file, partial));
            steps.add(new Step.ResumeAfterSave(q.pid(), true));
            steps.addAll(after);
            steps.add(new Step.DropLink(partial));
            ctx.plan.replaceSteps(steps);
            return made;
        }
        if (freezeAgent != null) {
            // The agent answers only while the guest runs: frozen before the pause, thawed after it.
            steps.add(new Step.Freeze(q.pid(), freezeAgent, LivePlans.freezeLimitMillis()));
        }
        if (!flags.live()) {
            steps.add(new Step.PauseForSave(q.pid(), running));
        }
        steps.add(new Step.SaveMemory(q.pid(), q.record().runDir(), file, partial, domainXml, running, flags.live()));
        steps.add(transaction);
        steps.add(new Step.ResumeAfterSave(q.pid(), running));
        if (freezeAgent != null) {
            steps.add(new Step.Thaw(q.pid(), freezeAgent));
        }
        steps.addAll(after);
        steps.add(new Step.DropLink(partial));
        ctx.plan.replaceSteps(steps);
        return made;
    }

    /**
     * Plans the revert: the disks as offline, then QEMU from the memory file, then the run state.
     * The memory file is checked whole first: a damaged one changes nothing.
     */
    static void revert(PlanContext ctx, SnapshotDef snap, boolean running, Path runDir, Path runtimeFile)
            throws IOException {
        Path file = snap.memoryFile();
        if (file == null || !Files.isRegularFile(file)) {
            throw new ManagerException("snapshot '" + snap.name() + "': its memory file " + file + " is missing");
        }
        SaveImage.open(file); // verified whole, or one line on what is wrong
        RevertPlanner.plan(ctx, snap);
        ctx.plan.add(new Step.StartFromMemory(runDir, runtimeFile, file));
        ctx.plan.add(new Step.SetRunState(0, running, CheckpointPlanner.quiesceRecord(snap)));
    }
}
