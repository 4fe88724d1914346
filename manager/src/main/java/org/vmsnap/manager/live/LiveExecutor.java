package org.vmsnap.manager.live;

import java.io.IOException;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import org.vmsnap.manager.JobProgress;
import org.vmsnap.manager.ManagerException;
import org.vmsnap.manager.plan.OfflineExecutor;
import org.vmsnap.manager.plan.Step;
import org.vmsnap.manager.plan.StepExecutor;
import org.vmsnap.manager.plan.StepNotStartedException;
import org.vmsnap.qcow2.OpenOptions;
import org.vmsnap.qcow2.Qcow2Image;
import org.vmsnap.qcow2.SnapshotInfo;
import org.vmsnap.qmp.BlockGraph;
import org.vmsnap.qmp.GuestAgentClient;
import org.vmsnap.qmp.QemuJob;
import org.vmsnap.qmp.QmpClient;
import org.vmsnap.qmp.QmpCommandException;
import org.vmsnap.qmp.QmpException;
import org.vmsnap.qmp.QmpTimeoutException;

/**
 * Runs the steps of a running domain's plans: live steps through QMP and the guest agent, the
 * rest (new files, metadata, images QEMU does not hold) through the {@link OfflineExecutor}.
 *
 * <p>Every live step can run again after a crash: it asks QEMU what is done already (is the
 * overlay the disk's active node, does the job still run, is the node still there). When the
 * QEMU a step was planned for is gone, the step does its offline equivalent on the files, which
 * no process holds any more: a commit or pull with the engine, an internal snapshot deleted in
 * the file; a freeze or thaw has nothing left to do. A snapshot transaction whose QEMU died
 * before it ran is reported as never started, so the plan is undone.
 */
public final class LiveExecutor implements StepExecutor {
    /** Block jobs copy at the disk's speed; a commit of a large image takes long, but not a day. */
    static final Duration JOB_TIMEOUT = Duration.ofHours(24);
    static final Duration THAW_TIMEOUT = Duration.ofSeconds(10);

    private final OfflineExecutor files;
    private final LiveQemu qemu;
    private final JobProgress progress;
    /**
     * True while {@link #runFirst} runs a step of a new plan: the checks of whether an earlier
     * process already did it (a node of this plan's name, a transaction's overlays, a job with
     * this plan's id) cannot find anything and are skipped, each a QMP round trip, three for the
     * block graph (branch startup2: a live disk-only snapshot of two disks asked 15 questions).
     */
    private boolean fresh;

    /** @param qemu the domain's QEMU, or null when it does not run */
    public LiveExecutor(OfflineExecutor files, LiveQemu qemu) {
        this(files, qemu, JobProgress.NONE);
    }

    public LiveExecutor(OfflineExecutor files, LiveQemu qemu, JobProgress progress) {
        this.files = files;
        this.qemu = qemu;
        this.progress = progress;
    }

    /**
     * What plans that restart the domain's QEMU (a checkpoint revert of a shut-off domain) need
     * from its lifecycle; without it such steps cannot run here.
     */
    public interface Restarts {
        /** The domain's QEMU now, or null (the caller closes it). */
        LiveQemu current() throws IOException;

        /** Starts the domain's QEMU with the guest's CPUs stopped. */
        void startPaused() throws IOException;

        /**
         * Records why the guest runs or is paused after a revert ("from snapshot"); a guest that
         * runs and {@code mayBeFrozen} (its checkpoint does not record that it was taken unfrozen)
         * is thawed if its agent says it is frozen.
         */
        void recordRunState(LiveQemu q, boolean running, boolean mayBeFrozen) throws IOException;

        /** Starts the domain's QEMU paused from a memory file (leaves a failed QEMU to the caller). */
        void startFromMemory(Path file) throws IOException;

        /** QEMU could not load a checkpoint's memory; the domain stays shut off. */
        void startFailed(String why);

        /** Stops the domain's QEMU if it is still the one of {@code pid} (libvirt's destroy). */
        void stop(long pid) throws IOException;

        /** Starts the domain from its disks, paused or running (virsh start [--paused]). */
        void boot(boolean paused) throws IOException;
    }

    private Restarts restarts;

    /** Lets this executor start the domain's QEMU (and find one it started). */
    public LiveExecutor withRestarts(Restarts r) {
        this.restarts = r;
        return this;
    }

    /** The --live internal checkpoint's save, held between its steps. */
    private SwitchoverSteps switchover;

    private SwitchoverSteps switchover() {
        if (switchover == null) {
            switchover = new SwitchoverSteps(files);
        }
        return switchover;
    }

    private CheckpointSteps checkpoints() {
        return new CheckpointSteps(files, qemu, restarts, fresh, fresh ? planned : null);
    }

    /** Runs a block job with its progress shown. */
    private void job(QmpClient qmp, String label, String command, ObjectNode args) throws IOException {
        try {
            QemuJob.run(qmp, command, args, JOB_TIMEOUT, (done, total) -> progress.update(label, done, total));
        } finally {
            progress.finish(label);
        }
    }

    /** One action of a snapshot transaction, as a journal field (parts url-encoded, joined by '|'). */
    public record Action(boolean internal, String disk, String node, String overlayNodeOrName, Path image) {
        public String encode() {
            return String.join("|", internal ? "internal" : "external", enc(disk), enc(node), enc(overlayNodeOrName),
                    enc(image.toString()));
        }

        public static Action decode(String s) {
            String[] p = s.split("\\|", -1);
            return new Action(p[0].equals("internal"), dec(p[1]), dec(p[2]), dec(p[3]), Path.of(dec(p[4])));
        }

        private static String enc(String s) {
            return URLEncoder.encode(s, StandardCharsets.UTF_8);
        }

        private static String dec(String s) {
            return URLDecoder.decode(s, StandardCharsets.UTF_8);
        }
    }

    @Override
    public void runFirst(Step step) throws IOException {
        fresh = true;
        try {
            run(step);
        } finally {
            fresh = false;
            if (!(step instanceof Step.Freeze || step instanceof Step.Thaw || step instanceof Step.StopGuest)) {
                planned = null; // the step may have changed the graph (or is past the checkpoint's QEMU step)
            }
        }
    }

    /**
     * The block graph the plan was made from, asked under this command's lock. A fresh plan's
     * checkpoint save or load, when only a freeze or a stop came before it, finds its nodes here
     * instead of asking QEMU again (three round trips; for a revert, while the guest is paused).
     */
    private BlockGraph planned;

    /** The block graph the plan was made from (see {@link #planned}). */
    public LiveExecutor withPlannedGraph(BlockGraph g) {
        this.planned = g;
        return this;
    }

    @Override
    public void run(Step step) throws IOException {
        switch (step) {
            case Step.Freeze f -> freeze(f);
            case Step.Thaw t -> thaw(t.pid(), t.agentSocket());
            case Step.BlockdevAdd b -> add(b);
            case Step.SnapshotTransaction t -> transaction(t);
            case Step.BlockCommit c -> commit(c);
            case Step.BlockStream s -> stream(s);
            case Step.BlockdevDel d -> del(d);
            case Step.LiveDeleteInternal d -> deleteInternal(d);
            case Step.SaveVm v -> checkpoints().save(v);
            case Step.StopGuest g -> checkpoints().stop(g.pid());
            case Step.StartPaused p -> checkpoints().startPaused();
            case Step.StartFromMemory m -> checkpoints().startFromMemory(m);
            case Step.StopForRevert r -> checkpoints().stopForRevert(r.pid());
            case Step.BootAfterRevert b -> checkpoints().bootAfterRevert(b.paused());
            case Step.LoadVm l -> checkpoints().load(l);
            case Step.SetRunState r -> checkpoints().setRunState(r);
            case Step.PauseForSave p -> MemorySteps.pause(qmp(p.pid()));
            case Step.SaveMemory m -> MemorySteps.save(qmp(m.pid()), m);
            case Step.SaveToSwitchover m -> switchover().save(qmp(m.pid()), m);
            case Step.SnapshotAtSwitchover t -> switchover().snapshots(qmp(t.pid()), t);
            case Step.FinishSwitchover f -> switchover().finish(qmp(f.pid()), f);
            case Step.QuitQemu q -> MemorySteps.quit(qemu, q.pid());
            case Step.ResumeAfterSave r -> MemorySteps.unpause(qmp(r.pid()), r.wasRunning());
            case Step.RestoreMemory r -> throw new StepNotStartedException(new IOException("a restore is not"
                    + " started again after a crash: " + r.describe()));
            case Step.ResumeRestored r -> MemorySteps.resumeRestored(r);
            case Step.RemoveSaveImage r -> MemorySteps.removeSaveImage(r.file());
            default -> files.run(step);
        }
    }

    @Override
    public void undo(Step step) throws IOException {
        switch (step) {
            case Step.Freeze f -> thaw(f.pid(), f.agentSocket());
            case Step.BlockdevAdd b -> {
                QmpClient qmp = qmp(b.pid());
                if (qmp != null) {
                    BlockGraph g = BlockGraph.query(qmp, LiveQemu.QMP_TIMEOUT);
                    if (g.node(b.formatNode()).isPresent() && !g.inUse(b.formatNode())) {
                        qmp.execute("blockdev-del", QmpClient.arguments().put("node-name", b.formatNode()),
                                LiveQemu.QMP_TIMEOUT);
                    }
                }
            }
            case Step.StopGuest g -> checkpoints().unstop(g.pid());
            case Step.PauseForSave p -> MemorySteps.unpause(qmp(p.pid()), p.wasRunning());
            case Step.SaveMemory m -> MemorySteps.unsave(qmp(m.pid()), m);
            case Step.SaveToSwitchover m -> switchover().unsave(qmp(m.pid()), m.file(), m.partial());
            case Step.SnapshotAtSwitchover t -> switchover().unsnapshot(qmp(t.pid()), t);
            case Step.FinishSwitchover f -> switchover().unsave(qmp(f.pid()), f.file(), f.partial());
            case Step.RestoreMemory r -> MemorySteps.unrestore(r);
            default -> files.undo(step);
        }
    }

    /** The QMP connection to the QEMU a step was planned for, or null when that QEMU is gone. */
    private QmpClient qmp(long pid) throws QmpException {
        if (qemu == null || qemu.pid() != pid || !qemu.isAlive()) {
            return null;
        }
        return qemu.qmp();
    }

    // ---------------------------------------------------------------- quiesce

    /**
     * guest-fsfreeze-freeze within the step's limit. An agent that does not finish in time (or
     * fails) gets a thaw at once, and the error says what the thaw did.
     */
    private void freeze(Step.Freeze f) throws IOException {
        if (qmp(f.pid()) == null) {
            return; // the guest is gone: nothing to freeze
        }
        Duration limit = Duration.ofMillis(f.limitMillis());
        try (GuestAgentClient agent = GuestAgentClient.connect(f.agentSocket(), limit)) {
            agent.fsfreezeFreeze();
        } catch (QmpException e) {
            String reason = e instanceof QmpTimeoutException
                    ? "the guest agent did not finish freezing the guest's filesystems within " + limit.toSeconds() + " s"
                    : "the guest agent could not freeze the guest's filesystems: " + e.getMessage();
            throw new ManagerException(reason + "; " + thawAfterFailure(f.agentSocket()), e);
        }
    }

    private static String thawAfterFailure(Path agentSocket) {
        try (GuestAgentClient agent = GuestAgentClient.connect(agentSocket, THAW_TIMEOUT)) {
            agent.thawIfFrozen();
            return "the guest was thawed";
        } catch (QmpException e) {
            return "thawing failed too (" + e.getMessage() + "): the next vmsnap command on the domain thaws it";
        }
    }

    private void thaw(long pid, Path agentSocket) throws IOException {
        if (qmp(pid) == null) {
            return; // the guest is gone: nothing is frozen
        }
        try (GuestAgentClient agent = GuestAgentClient.connect(agentSocket, THAW_TIMEOUT)) {
            agent.thawIfFrozen();
        } catch (QmpException e) {
            throw new ManagerException("thawing the guest's filesystems failed: " + e.getMessage()
                    + " (the next vmsnap command on the domain tries again)", e);
        }
    }

    // ---------------------------------------------------------------- snapshots

    private void add(Step.BlockdevAdd b) throws IOException {
        QmpClient qmp = qmp(b.pid());
        if (qmp == null) {
            return; // its QEMU is gone: the file stays a plain file until the plan's end decides
        }
        if (!fresh && BlockGraph.hasNode(qmp, b.formatNode(), LiveQemu.QMP_TIMEOUT)) {
            return; // added before a crash
        }
        ObjectNode args = QmpClient.arguments().put("driver", "qcow2").put("node-name", b.formatNode());
        args.set("file", QmpClient.arguments().put("driver", "file").put("node-name", b.storageNode())
                .put("filename", b.file().toAbsolutePath().toString()).put("drop-cache", false)); // as BlockArgs
        args.putNull("backing"); // blockdev-snapshot attaches the disk's active node as its backing
        try {
            qmp.execute("blockdev-add", args, LiveQemu.QMP_TIMEOUT);
        } catch (QmpCommandException e) {
            throw new StepNotStartedException(new ManagerException("disk " + b.disk() + ": QEMU cannot open " + b.file()
                    + ": " + e.getMessage(), e));
        }
    }

    private void transaction(Step.SnapshotTransaction t) throws IOException {
        List<Action> actions = t.actions().stream().map(Action::decode).toList();
        QmpClient qmp = qmp(t.pid());
        if (qmp == null) {
            transactionWithoutQemu(actions);
            return;
        }
        int done = 0;
        if (!fresh) {
            BlockGraph g = BlockGraph.query(qmp, LiveQemu.QMP_TIMEOUT);
            for (Action a : actions) {
                done += happened(g, a) ? 1 : 0;
            }
        }
        if (done == actions.size()) {
            return; // ran before a crash
        }
        if (done > 0) {
            throw new ManagerException("the snapshot transaction happened on " + done + " of " + actions.size()
                    + " disks, which QEMU's transactions do not allow; look at the disks with query-block");
        }
        ArrayNode list = JsonNodeFactory.instance.arrayNode();
        for (Action a : actions) {
            ObjectNode data = QmpClient.arguments();
            if (a.internal()) {
                data.put("device", a.node()).put("name", a.overlayNodeOrName());
            } else {
                data.put("node", a.node()).put("overlay", a.overlayNodeOrName());
            }
            list.add(QmpClient.arguments().put("type", a.internal() ? "blockdev-snapshot-internal-sync"
                    : "blockdev-snapshot").<ObjectNode>set("data", data));
        }
        try {
            qmp.execute("transaction", QmpClient.arguments().set("actions", list), LiveQemu.QMP_TIMEOUT);
        } catch (QmpCommandException e) {
            // All or nothing: QEMU refused it, so nothing happened.
            throw new StepNotStartedException(new ManagerException("QEMU refused the snapshot: " + e.getMessage(), e));
        }
    }

    private static boolean happened(BlockGraph g, Action a) {
        if (a.internal()) {
            return g.node(a.node()).map(n -> n.snapshots().contains(a.overlayNodeOrName())).orElse(false);
        }
        return g.node(a.overlayNodeOrName()).map(n -> a.node().equals(n.backing())).orElse(false);
    }

    /**
     * The QEMU died around the transaction: an internal snapshot in the image proves it ran (it is
     * all or nothing); none proves it did not. With external disks only there is no proof either
     * way, and the overlay is kept as the disk's image: it reads as its backing file plus whatever
     * the guest wrote into it, so nothing is lost.
     */
    private static void transactionWithoutQemu(List<Action> actions) throws IOException {
        for (Action a : actions) {
            if (a.internal()) {
                boolean present;
                try (Qcow2Image img = Qcow2Image.open(a.image(), OpenOptions.readOnlyOpen().withOpenBacking(false))) {
                    present = img.snapshots().stream().map(SnapshotInfo::name)
                            .anyMatch(a.overlayNodeOrName()::equals);
                }
                if (!present) {
                    throw new StepNotStartedException(new ManagerException("QEMU ended before the snapshot"
                            + " transaction ran (no internal snapshot " + a.overlayNodeOrName() + " in " + a.image()
                            + ")"));
                }
            }
        }
    }

    // ---------------------------------------------------------------- merges

    private void commit(Step.BlockCommit c) throws IOException {
        QmpClient qmp = qmp(c.pid());
        if (qmp == null) {
            files.run(new Step.Commit(c.disk(), c.top(), c.base()));
            if (c.above() != null) {
                files.run(new Step.Rebase(c.disk(), c.above(), c.base(), c.baseFormat(), false));
            }
            return;
        }
        if (!fresh && QemuJob.follow(qmp, c.jobId(), JOB_TIMEOUT,
                (done, total) -> progress.update("Block commit", done, total))) {
            progress.finish("Block commit");
            return; // the job an earlier process started has ended now
        }
        BlockGraph g = BlockGraph.query(qmp, LiveQemu.QMP_TIMEOUT);
        if (!g.inUse(c.topNode())) {
            return; // committed before a crash: no device reads the top any more
        }
        String device = rootOf(g, c.topNode()).orElseThrow(() -> new ManagerException("disk " + c.disk()
                + ": no device of QEMU reads node " + c.topNode()));
        ObjectNode args = QmpClient.arguments().put("job-id", c.jobId()).put("device", device)
                .put("base-node", c.baseNode()).put("auto-dismiss", false);
        if (!c.active()) {
            args.put("top-node", c.topNode());
        }
        job(qmp, "Block commit", "block-commit", args);
    }

    private void stream(Step.BlockStream s) throws IOException {
        QmpClient qmp = qmp(s.pid());
        if (qmp == null) {
            files.run(new Step.Rebase(s.disk(), s.image(), s.newBacking(), s.newBackingFormat(), true));
            return;
        }
        if (!fresh && QemuJob.follow(qmp, s.jobId(), JOB_TIMEOUT,
                (done, total) -> progress.update("Block pull", done, total))) {
            progress.finish("Block pull");
            return;
        }
        BlockGraph g = BlockGraph.query(qmp, LiveQemu.QMP_TIMEOUT);
        String backing = g.node(s.node()).map(BlockGraph.Node::backing).orElse(null);
        if (s.newBackingNode() == null ? backing == null : s.newBackingNode().equals(backing)) {
            return; // pulled before a crash
        }
        ObjectNode args = QmpClient.arguments().put("job-id", s.jobId()).put("device", s.node())
                .put("auto-dismiss", false);
        if (s.newBackingNode() != null) {
            args.put("base-node", s.newBackingNode());
        }
        job(qmp, "Block pull", "block-stream", args);
    }

    private void del(Step.BlockdevDel d) throws IOException {
        QmpClient qmp = qmp(d.pid());
        if (qmp == null) {
            return; // its QEMU is gone, and with it the node
        }
        BlockGraph g = BlockGraph.query(qmp, LiveQemu.QMP_TIMEOUT);
        if (g.node(d.formatNode()).isEmpty()) {
            return;
        }
        if (g.inUse(d.formatNode())) {
            throw new ManagerException("disk " + d.disk() + ": QEMU still reads " + d.file() + " (node "
                    + d.formatNode() + ")");
        }
        qmp.execute("blockdev-del", QmpClient.arguments().put("node-name", d.formatNode()), LiveQemu.QMP_TIMEOUT);
    }

    private void deleteInternal(Step.LiveDeleteInternal d) throws IOException {
        QmpClient qmp = qmp(d.pid());
        if (qmp == null) {
            files.run(new Step.DeleteInternal(d.disk(), d.image(), d.snapshot()));
            return;
        }
        if (!fresh) { // a new plan's node holds the snapshot: the plan was made from QEMU's graph under this lock
            Optional<BlockGraph.Node> n = BlockGraph.query(qmp, LiveQemu.QMP_TIMEOUT).node(d.node());
            if (n.isEmpty() || !n.get().snapshots().contains(d.snapshot())) {
                return; // deleted before a crash
            }
        }
        qmp.execute("blockdev-snapshot-delete-internal-sync", QmpClient.arguments().put("device", d.node())
                .put("name", d.snapshot()), LiveQemu.QMP_TIMEOUT);
    }

    /** The root node of the device whose chain holds {@code node}. */
    private static Optional<String> rootOf(BlockGraph g, String node) {
        for (BlockGraph.Backend b : g.backends()) {
            if (b.root() != null && g.chain(b.root()).contains(node)) {
                return Optional.of(b.root());
            }
        }
        return Optional.empty();
    }

    /** Encodes actions for {@link Step.SnapshotTransaction}. */
    public static List<String> encode(List<Action> actions) {
        List<String> out = new ArrayList<>();
        actions.forEach(a -> out.add(a.encode()));
        return out;
    }
}
