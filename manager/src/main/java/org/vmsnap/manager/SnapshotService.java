package org.vmsnap.manager;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import org.vmsnap.manager.live.LiveExecutor;
import org.vmsnap.manager.live.LiveQemu;
import org.vmsnap.manager.live.LiveView;
import org.vmsnap.manager.plan.OfflineExecutor;
import org.vmsnap.manager.plan.PlanRunner;
import org.vmsnap.manager.plan.Step;
import org.vmsnap.manager.plan.Journal;
import org.vmsnap.manager.store.DomainLock;
import org.vmsnap.manager.store.DomainStore;
import org.vmsnap.manager.xml.Domain;
import org.vmsnap.manager.xml.Names;
import org.vmsnap.manager.xml.SnapshotDef;
import org.vmsnap.manager.xml.SnapshotMode;

/**
 * Snapshot operations of one domain (virsh snapshot-*), shut off or running. Every call holds
 * the domain's lock, notices whether its QEMU runs, first finishes or undoes an operation an
 * earlier process left in the journal, then plans its own and runs it: through the offline
 * executor on the files, or for a running domain through QEMU ({@link LivePlans}).
 */
public final class SnapshotService {
    private final DomainStore store;
    private final Clock clock;
    private final Consumer<String> warnings;
    private final Lifecycle lifecycle;
    /** The domain's QEMU during a call, or null when it does not run. */
    private LiveQemu live;
    private JobProgress progress = JobProgress.NONE;

    /** Where long QEMU jobs (the block commits of a live delete) report their progress. */
    public SnapshotService withProgress(JobProgress p) {
        this.progress = p;
        return this;
    }

    /** Seconds since the epoch (a seam for tests). */
    public interface Clock {
        long nowSec();
    }

    /** What a revert leaves running (virsh snapshot-revert's --running / --paused). */
    public enum After { SHUT_OFF, RUNNING, PAUSED, AS_RECORDED }

    SnapshotService(DomainStore store, Clock clock, Consumer<String> warnings, Lifecycle lifecycle) {
        this.store = store;
        this.clock = clock;
        this.warnings = warnings;
        this.lifecycle = lifecycle;
    }

    private interface Body<T> {
        T run(DomainState state) throws IOException;
    }

    /** For a change: an interrupted plan must be finished or undone first, or nothing happens. */
    private <T> T locked(Body<T> body) throws IOException {
        return locked(null, body);
    }

    private <T> T locked(List<org.vmsnap.manager.store.DomainStore.Damaged> damaged, Body<T> body)
            throws IOException {
        try (DomainLock lock = store.lock()) {
            checkExists();
            live = lifecycle.probe().orElse(null);
            try {
                note(runner().recover());
                return body.run(DomainState.load(store, damaged));
            } finally {
                closeLive();
            }
        }
    }

    /**
     * For a command that only shows: an interrupted plan that cannot be finished or undone now
     * (an image locked by another process, say) does not stop it; it shows the stored state and
     * says that a plan is pending.
     */
    private <T> T reading(Body<T> body) throws IOException {
        try (DomainLock lock = store.lock()) {
            checkExists();
            try {
                live = lifecycle.probe().orElse(null);
                note(runner().recover());
            } catch (IOException e) {
                warnings.accept(e.getMessage() + "; what is shown is the state stored before it");
            } finally {
                closeLive();
            }
            return body.run(DomainState.load(store, null));
        }
    }

    private void closeLive() {
        if (live != null) {
            live.close();
            live = null;
        }
    }

    private void checkExists() throws NotFoundException {
        if (!store.exists()) {
            throw new NotFoundException("Domain not found: no domain with matching name '" + store.name() + "'");
        }
    }

    private void note(String recovered) {
        if (recovered != null) {
            warnings.accept(recovered);
        }
    }

    private PlanRunner runner() {
        return runner(new CheckpointRestarts(lifecycle));
    }

    /**
     * The runner of a checkpoint plan made from {@code planned}, the block graph read under this
     * lock: the save or load finds its nodes there instead of asking QEMU again.
     */
    private PlanRunner runner(org.vmsnap.qmp.BlockGraph planned) {
        return new PlanRunner(new Journal(store.journalFile()), new LiveExecutor(new OfflineExecutor(warnings), live,
                progress).withRestarts(new CheckpointRestarts(lifecycle)).withPlannedGraph(planned));
    }

    /** The runner, with {@code restarts} to ask afterwards what a restart of QEMU met. */
    private PlanRunner runner(CheckpointRestarts restarts) {
        return new PlanRunner(new Journal(store.journalFile()),
                new LiveExecutor(new OfflineExecutor(warnings), live, progress).withRestarts(restarts));
    }

    /**
     * A plan context that knows which files the running QEMU holds (and which are the disks'
     * active images), so planners can tell what must wait for QEMU to let go.
     */
    private PlanContext open(DomainState s, String what) throws IOException {
        PlanContext ctx = PlanContext.open(store, s, what);
        if (live != null) {
            LiveView view = LiveView.of(live);
            ctx.live = view;
            ctx.qemuHolds = view::holds;
            ctx.qemuActive = p -> view.nodeOf(p).map(n -> view.graph().backends().stream()
                    .anyMatch(b -> n.equals(b.root()))).orElse(false);
        }
        return ctx;
    }

    /** For a running domain: the plan becomes a live one, and the preflight skips what QEMU holds. */
    private void goLive(PlanContext ctx, java.nio.file.Path agentSocketToFreeze) throws IOException {
        goLive(ctx, agentSocketToFreeze, false);
    }

    /** {@link #goLive}; {@code inactiveRefused}: the caller already asked QEMU's run state under this lock. */
    private void goLive(PlanContext ctx, java.nio.file.Path agentSocketToFreeze, boolean inactiveRefused)
            throws IOException {
        if (ctx.live == null) {
            Preflight.check(ctx);
            return;
        }
        LivePlans.convert(ctx, ctx.live, agentSocketToFreeze);
        boolean touchesQemu = ctx.plan.steps().stream().anyMatch(st -> st instanceof Step.BlockdevAdd
                || st instanceof Step.SnapshotTransaction || st instanceof Step.BlockCommit
                || st instanceof Step.BlockStream || st instanceof Step.BlockdevDel
                || st instanceof Step.LiveDeleteInternal);
        if (touchesQemu && !inactiveRefused) {
            refuseInactiveImages(ctx.before);
        }
        Preflight.check(ctx, ctx.live::holds);
    }

    /**
     * After a checkpoint of a paused guest, QEMU 7.2 stays in {@code postmigrate} with its images
     * inactive until the guest is resumed: a snapshot there fails, and deleting an internal
     * snapshot of an inactive image aborts QEMU (measured). Refused before anything changes.
     * Returns the run state it asked (query-status), for the caller's other questions: only a
     * vmsnap command holding the domain's lock makes QEMU postmigrate, so one answer serves the
     * whole locked operation for this guard.
     */
    private String refuseInactiveImages(DomainState s) throws IOException {
        String status = live.qemuStatus();
        if (status.equals("postmigrate")) {
            throw new InvalidInputException("Requested operation is not valid: QEMU holds the disks of domain "
                    + s.domain.name() + " inactive since the checkpoint of its paused guest; resume it first"
                    + " ('vmsnap resume " + s.domain.name() + "')");
        }
        return status;
    }

    /** The domain's current definition. */
    public Domain domain() throws IOException {
        return reading(s -> s.domain);
    }

    /** All snapshots with metadata, and the current one. */
    public SnapshotTree tree() throws IOException {
        return reading(DomainState::tree);
    }

    /**
     * snapshot-create / snapshot-create-as. {@code request} comes from the user's XML or from
     * create-as arguments (name may be null: the creation time in seconds; disks may be empty or
     * partial: the domain's defaults fill in). Returns the snapshot as recorded.
     */
    public SnapshotDef create(SnapshotDef request, CreateFlags flags) throws IOException {
        return locked(s -> {
            if (flags.redefine()) {
                return redefine(s, request, flags.current());
            }
            if (request.name() != null && s.snapshots.containsKey(request.name())) {
                // virsh's words, before anything else is looked at (the planners check it too).
                throw new InvalidInputException("operation failed: domain moment " + request.name() + " already exists");
            }
            if (flags.current()) {
                throw new InvalidInputException("--current is only valid with --redefine");
            }
            // One query-status for the whole create: the postmigrate guard here, the disk-only
            // plan's guard (goLive) and the checkpoints' "was it running" all use this answer.
            String status = live != null ? refuseInactiveImages(s) : null;
            java.nio.file.Path freeze = null;
            if (live == null && flags.quiesce()) {
                throw new InvalidInputException("Requested operation is not valid: domain is not running (--quiesce"
                        + " needs the guest agent of a running domain)");
            }
            if (live != null && flags.quiesce()) {
                try (var agent = Lifecycle.agent(live)) {
                    freeze = live.record().agentSocket(); // it answered: freeze through it
                }
            }
            if (flags.live() && (live == null || flags.diskOnly() || request.memoryMode() == SnapshotMode.NO)) {
                // libvirt 9.0's rule and words (vmsnap takes --live for internal checkpoints too).
                throw new InvalidInputException(live == null ? "Requested operation is not valid: domain is not"
                        + " running (--live is for checkpoints of a running domain)"
                        : "unsupported configuration: live snapshot creation is supported only for checkpoints"
                                + " (disks and memory), not with --disk-only or a memory snapshot='no'");
            }
            if (flags.live() && request.memoryMode() != SnapshotMode.EXTERNAL) {
                // An internal checkpoint with --live: the memory to a file beside the first disk,
                // the disks' internal snapshots at the save's last pause (LiveInternalCheckpoints).
                PlanContext ctx = open(s, "snapshot-create of live internal checkpoint of domain "
                        + s.domain.name());
                SnapshotDef made = LiveInternalCheckpoints.create(ctx, live, request, flags, clock.nowSec(),
                        "running".equals(status), freeze);
                Preflight.check(ctx, ctx.live::holds);
                runner().run(ctx.plan);
                return made;
            }
            if (live != null && !flags.diskOnly() && request.memoryMode() == SnapshotMode.EXTERNAL) {
                PlanContext ctx = open(s, "snapshot-create of external checkpoint of domain "
                        + s.domain.name());
                boolean running = "running".equals(status);
                SnapshotDef made = ExternalCheckpoints.create(ctx, live, request, flags, clock.nowSec(), running,
                        freeze);
                Preflight.check(ctx, ctx.live::holds);
                runner().run(ctx.plan);
                return made;
            }
            if (live != null && !flags.diskOnly() && request.memoryMode() != SnapshotMode.NO) {
                // A running domain without --disk-only: a checkpoint, disks and memory (virsh's default).
                PlanContext ctx = open(s, "snapshot-create of checkpoint of domain " + s.domain.name());
                boolean running = "running".equals(status);
                SnapshotDef made = CheckpointPlanner.create(ctx, ctx.live, request, flags, clock.nowSec(), running,
                        freeze);
                Preflight.check(ctx, ctx.live::holds);
                runner(ctx.live.graph()).run(ctx.plan);
                return made;
            }
            PlanContext ctx = open(s, "snapshot-create of domain " + s.domain.name());
            SnapshotDef made = CreatePlanner.plan(ctx, request, flags, clock.nowSec());
            goLive(ctx, freeze, live != null);
            runner().run(ctx.plan);
            return made;
        });
    }

    private SnapshotDef redefine(DomainState s, SnapshotDef def, boolean makeCurrent) throws IOException {
        if (def.name() == null) {
            throw new InvalidInputException("snapshot XML to redefine has no <name>");
        }
        Names.checkSnapshotName(def.name());
        if (def.parent() != null && !s.snapshots.containsKey(def.parent())) {
            throw new InvalidInputException("parent " + def.parent() + " for snapshot " + def.name() + " not found");
        }
        if (def.parent() != null && def.parent().equals(def.name())) {
            throw new InvalidInputException("snapshot " + def.name() + " cannot be its own parent");
        }
        SnapshotDef full = def;
        if (full.domain() == null) {
            full = full.withDomain(s.domain);
        }
        if (full.creationTimeSec() == 0) {
            full = full.withCreation(clock.nowSec(), full.state() == null ? "shutoff" : full.state());
        } else if (full.state() == null) {
            full = full.withCreation(full.creationTimeSec(), "shutoff");
        }
        if (full.parent() != null && s.snapshots.containsKey(full.name())) {
            for (SnapshotDef a : s.tree().ancestry(full.parent())) {
                if (a.name().equals(full.name())) {
                    throw new InvalidInputException("snapshot " + full.name() + ": parent " + full.parent()
                            + " is one of its descendants");
                }
            }
        }
        PlanContext ctx = PlanContext.open(store, s, "snapshot-create --redefine of " + def.name());
        RedefineCheck.check(ctx, full);
        ctx.after.snapshots.put(full.name(), full);
        if (makeCurrent) {
            ctx.after.current = full.name();
        }
        ctx.emitMetadata();
        runner().run(ctx.plan);
        return full;
    }

    /** snapshot-current SNAPSHOT. */
    public void setCurrent(String name) throws IOException {
        locked(s -> {
            s.tree().get(name);
            PlanContext ctx = PlanContext.open(store, s, "snapshot-current " + name);
            ctx.after.current = name;
            ctx.emitMetadata();
            runner().run(ctx.plan);
            return null;
        });
    }

    /** snapshot-edit: replace the editable parts (name, description) of a snapshot's metadata. */
    public SnapshotDef edit(String name, SnapshotDef edited) throws IOException {
        return locked(s -> SnapshotEdit.edit(s, name, edited, runner(), what -> open(s, what), ctx -> goLive(ctx, null)));
    }

    /** snapshot-revert of a shut-off domain, which stays shut off. */
    public void revert(String name, boolean force) throws IOException {
        revert(name, force, After.SHUT_OFF);
    }

    /**
     * snapshot-revert. A running domain is stopped first (libvirt's semantics for disk-only
     * snapshots: the guest's state since is lost anyway), the disks go back as offline, and the
     * domain starts again only when {@code after} asks.
     */
    public void revert(String name, boolean force, After after) throws IOException {
        revert(tree -> tree.get(name).name(), force, after);
    }

    /**
     * snapshot-revert to the snapshot {@code pick} names in the tree read under the domain's lock
     * (as {@link #delete(Pick, DeleteScope, boolean)}): a caller that resolves --current or checks
     * the name does not read the state (lock, QEMU probe, recover check, every snapshot file) twice.
     *
     * @return the name of the snapshot reverted to
     */
    public String revert(Pick pick, boolean force, After after) throws IOException {
        return locked(s -> {
            SnapshotTree tree = s.tree();
            String name = pick.name(tree);
            SnapshotDef snap = tree.get(name);
            // No --running/--paused: the state the snapshot recorded (virsh's rule).
            After want = after != After.AS_RECORDED ? after : "running".equals(snap.state()) ? After.RUNNING
                    : "paused".equals(snap.state()) ? After.PAUSED : After.SHUT_OFF;
            java.nio.file.Path managed = MemorySaves.managedSaveFile(store);
            boolean dropManaged = java.nio.file.Files.exists(managed, java.nio.file.LinkOption.NOFOLLOW_LINKS);
            if (dropManaged && !force) {
                // The next start would resume the saved guest on the reverted disks (libvirt's check).
                throw new InvalidInputException("revert requires force: " + (snap.memoryMode() == SnapshotMode.INTERNAL
                        ? "the domain has a managed save image, which the revert would leave behind stale"
                        : "snapshot without memory state, removal of existing managed saved state strongly"
                                + " recommended to avoid corruption")
                        + " (--force removes the managed save image)");
            }
            if (snap.memoryMode() == SnapshotMode.INTERNAL && want != After.SHUT_OFF) {
                revertCheckpoint(s, snap, want == After.RUNNING, dropManaged ? managed : null);
                return name;
            }
            if (snap.memoryMode() == SnapshotMode.EXTERNAL && want != After.SHUT_OFF) {
                revertExternalCheckpoint(s, snap, want == After.RUNNING, dropManaged ? managed : null);
                return name;
            }
            boolean stopped = live != null;
            PlanContext ctx = PlanContext.open(store, s, "snapshot-revert to " + name);
            RevertPlanner.plan(ctx, snap);
            Preflight.check(ctx, stopRunningQemuFirst(ctx));
            if (dropManaged) {
                java.nio.file.Files.deleteIfExists(managed); // --force: vmsnap's own file, the user's choice
            }
            if (want != After.SHUT_OFF) {
                ctx.plan.add(new Step.BootAfterRevert(want == After.PAUSED));
            }
            runner().run(ctx.plan);
            if (want == After.SHUT_OFF && stopped) {
                // libvirt's reason for a domain a revert stopped: "shut off (from snapshot)"
                org.vmsnap.manager.store.AtomicFiles.write(store.shutoffReasonFile(), "from snapshot\n");
            }
            return name;
        });
    }

    /**
     * Revert to an internal checkpoint: in the running QEMU when it can load it (no restart),
     * else QEMU (stopped first if it runs) starts again paused from the reverted disks and loads
     * it. The guest then runs, or stays paused.
     */
    private void revertCheckpoint(DomainState s, SnapshotDef snap, boolean running, java.nio.file.Path dropManaged)
            throws IOException {
        String what = "snapshot-revert to checkpoint " + snap.name();
        if (live != null) {
            PlanContext ctx = open(s, what);
            if (CheckpointPlanner.loadsInPlace(ctx, ctx.live, snap)) {
                CheckpointPlanner.revertInPlace(ctx, ctx.live, snap, running, live.qemuStatus().equals("running"));
                Preflight.check(ctx, ctx.live::holds);
                runner(ctx.live.graph()).run(ctx.plan);
                return;
            }
        }
        PlanContext ctx = PlanContext.open(store, s, what);
        CheckpointPlanner.revertByRestart(ctx, snap, running); // refuses before QEMU is stopped
        Preflight.check(ctx, stopRunningQemuFirst(ctx));
        if (dropManaged != null) {
            java.nio.file.Files.deleteIfExists(dropManaged); // --force: vmsnap's own file, the user's choice
        }
        runner().run(ctx.plan);
    }

    /**
     * A revert of a running domain stops QEMU as the plan's first step (irreversible: a crash once
     * the plan is journaled rolls it forward, never back to old disks without their guest); the
     * live connection is closed, the plan's executor stops QEMU through the lifecycle.
     *
     * @return the files that QEMU holds now and lets go of at that step (preflight cannot open them yet)
     */
    private java.util.function.Predicate<java.nio.file.Path> stopRunningQemuFirst(PlanContext ctx) throws IOException {
        if (live == null) {
            return p -> false;
        }
        LiveView view = LiveView.of(live);
        List<Step> steps = new ArrayList<>();
        steps.add(new Step.StopForRevert(live.pid()));
        steps.addAll(ctx.plan.steps());
        ctx.plan.replaceSteps(steps);
        closeLive();
        return view::holds;
    }

    /**
     * Revert to an external checkpoint: QEMU (stopped first if it runs) starts again from the
     * reverted disks and the checkpoint's memory file. A QEMU that cannot load it leaves the
     * domain shut off at the checkpoint's disks, and the command says so.
     */
    private void revertExternalCheckpoint(DomainState s, SnapshotDef snap, boolean running,
            java.nio.file.Path dropManaged) throws IOException {
        PlanContext ctx = PlanContext.open(store, s, "snapshot-revert to checkpoint " + snap.name());
        ExternalCheckpoints.revert(ctx, snap, running, lifecycle.runDir(snap.domain()), store.runtimeFile());
        Preflight.check(ctx, stopRunningQemuFirst(ctx));
        if (dropManaged != null) {
            java.nio.file.Files.deleteIfExists(dropManaged); // --force: vmsnap's own file, the user's choice
        }
        CheckpointRestarts restarts = new CheckpointRestarts(lifecycle);
        runner(restarts).run(ctx.plan); // live is null here: QEMU was stopped
        if (restarts.failure() != null) {
            throw new ManagerException("reverted the disks of domain " + s.domain.name() + " to checkpoint "
                    + snap.name() + ", but QEMU could not load its memory (" + restarts.failure()
                    + "); the domain is shut off at the checkpoint's disks");
        }
    }

    /**
     * snapshot-delete.
     *
     * @return the names whose snapshots were deleted
     */
    public List<String> delete(String name, DeleteScope scope, boolean metadataOnly) throws IOException {
        return delete(tree -> tree.get(name).name(), scope, metadataOnly);
    }

    /** Picks the snapshot to delete from the tree as read under the lock (a name, or the current one). */
    @FunctionalInterface
    public interface Pick {
        String name(SnapshotTree tree) throws IOException;
    }

    /**
     * snapshot-delete of the snapshot {@code pick} names in the tree read under the domain's lock,
     * so a caller that resolves --current or checks the name does not read the state twice.
     */
    public List<String> delete(Pick pick, DeleteScope scope, boolean metadataOnly) throws IOException {
        return locked(s -> {
            SnapshotTree tree = s.tree();
            String name = pick.name(tree);
            tree.get(name);
            List<String> names = new ArrayList<>();
            if (scope != DeleteScope.SNAPSHOT) {
                for (SnapshotDef d : tree.descendants(name)) {
                    names.addFirst(d.name()); // descendants before their parents
                }
            }
            if (scope != DeleteScope.CHILDREN_ONLY) {
                names.add(name);
            }
            PlanContext ctx = open(s, "snapshot-delete of " + name);
            DeletePlanner.plan(ctx, names, metadataOnly);
            goLive(ctx, null);
            runner().run(ctx.plan);
            return names;
        });
    }

    /** vmsnap recover: rebuilds snapshot metadata from the images. */
    public RecoverReport recover() throws IOException {
        List<org.vmsnap.manager.store.DomainStore.Damaged> damaged = new ArrayList<>();
        return locked(damaged, s -> {
            PlanContext ctx = PlanContext.open(store, s, "recover of domain " + s.domain.name());
            for (var d : damaged) {
                // A damaged file is replaced by what the images say (or removed).
                ctx.plan.add(new org.vmsnap.manager.plan.Step.PutFile(d.file(), null,
                        org.vmsnap.manager.store.AtomicFiles.readOrNull(d.file())));
            }
            RecoverReport report = Recovery.plan(ctx, clock.nowSec());
            List<String> notes = new ArrayList<>(damaged.stream().map(d -> "damaged metadata set aside: " + d).toList());
            notes.addAll(report.notes());
            runner().run(ctx.plan);
            return new RecoverReport(report.snapshots(), report.current(), notes);
        });
    }
}
