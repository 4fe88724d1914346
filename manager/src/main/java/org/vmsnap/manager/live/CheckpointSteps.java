package org.vmsnap.manager.live;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import org.vmsnap.manager.ManagerException;
import org.vmsnap.manager.plan.OfflineExecutor;
import org.vmsnap.manager.plan.Step;
import org.vmsnap.manager.plan.StepNotStartedException;
import org.vmsnap.qcow2.ImageWriteback;
import org.vmsnap.qcow2.OpenOptions;
import org.vmsnap.qcow2.Qcow2Image;
import org.vmsnap.qcow2.SnapshotInfo;
import org.vmsnap.qmp.BlockGraph;
import org.vmsnap.qmp.QemuJob;
import org.vmsnap.qmp.QmpClient;
import org.vmsnap.qmp.QmpCommandException;
import org.vmsnap.qmp.QmpException;

/**
 * The steps of internal checkpoints (disks and memory inside the qcow2 images): QEMU's
 * {@code snapshot-save} and {@code snapshot-load} jobs, pausing and resuming the guest around a
 * revert, and starting QEMU paused for a revert of a shut-off domain.
 *
 * <p>Why a dead vmsnap never leaves the guest paused: a save is paused and resumed by QEMU itself
 * (the job stops the CPUs and starts them again when it ends); a revert stops the guest in a
 * journaled step whose undo resumes it, and once the load has begun the next command finishes the
 * plan, whose last step resumes it.
 */
final class CheckpointSteps {
    private final OfflineExecutor files;
    private final LiveQemu qemu;
    private final LiveExecutor.Restarts restarts;
    /** The step belongs to a new plan: no earlier process started its job (nothing to follow or clean up). */
    private final boolean fresh;
    /** The block graph the plan was made from, still valid for this step; or null: ask QEMU. */
    private final BlockGraph planned;

    CheckpointSteps(OfflineExecutor files, LiveQemu qemu, LiveExecutor.Restarts restarts) {
        this(files, qemu, restarts, false, null);
    }

    CheckpointSteps(OfflineExecutor files, LiveQemu qemu, LiveExecutor.Restarts restarts, boolean fresh,
            BlockGraph planned) {
        this.files = files;
        this.qemu = qemu;
        this.restarts = restarts;
        this.fresh = fresh;
        this.planned = planned;
    }

    /** The graph to find the step's nodes in: the plan's when it is still valid, else QEMU's now. */
    private BlockGraph graph(QmpClient qmp) throws QmpException {
        return planned != null ? planned : BlockGraph.query(qmp, LiveQemu.QMP_TIMEOUT);
    }

    /** The QEMU a step names: its pid, or 0 for whichever QEMU runs the domain now (one this plan started). */
    private LiveQemu target(long pid) throws IOException {
        if (pid != 0) {
            return qemu != null && qemu.pid() == pid && qemu.isAlive() ? qemu : null;
        }
        if (qemu != null && qemu.isAlive()) {
            return qemu;
        }
        return restarts == null ? null : restarts.current();
    }

    private void release(LiveQemu q) {
        if (q != null && q != qemu) {
            q.close();
        }
    }

    // ---------------------------------------------------------------- save

    void save(Step.SaveVm s) throws IOException {
        LiveQemu q = target(s.pid());
        try {
            if (q == null) {
                saveWithoutQemu(s);
                return;
            }
            QmpClient qmp = q.qmp();
            try {
                // A new plan's job cannot have been started by anyone: no query-jobs to follow it, and
                // the planner made sure no image holds the tag (no leftovers to look for).
                if (fresh || !QemuJob.follow(qmp, s.jobId(), LiveExecutor.JOB_TIMEOUT)) {
                    BlockGraph g = graph(qmp);
                    if (!fresh) {
                        if (holders(g, s.images(), s.tag()).size() == s.images().size()) {
                            return; // saved before a crash
                        }
                        removeLeftovers(qmp, g, s.images(), s.tag());
                    }
                    // QEMU writes the guest's RAM into the first image and flushes every image with
                    // the guest paused: the kernel writes back beside it, the flush waits for less.
                    try (ImageWriteback w = ImageWriteback.start(s.images().stream().map(Path::of).toList())) {
                        QemuJob.run(qmp, "snapshot-save", jobArgs(g, s.jobId(), s.tag(), s.vmstateImage(),
                                s.images()), LiveExecutor.JOB_TIMEOUT);
                    }
                }
            } catch (QmpCommandException e) {
                // The job failed (no space for the VM state, say): QEMU resumed the guest; what
                // it left of the snapshot goes, so nothing changed.
                removeLeftovers(qmp, BlockGraph.query(qmp, LiveQemu.QMP_TIMEOUT), s.images(), s.tag());
                throw new StepNotStartedException(new ManagerException("QEMU could not save the checkpoint "
                        + s.tag() + ": " + e.description() + spaceNote(s.vmstateImage())));
            }
            if (fresh) {
                // The job this command started concluded without an error: QEMU's save_snapshot fails
                // the job when the snapshot cannot be made on any of the devices, so every disk has it.
                return;
            }
            BlockGraph g = BlockGraph.query(qmp, LiveQemu.QMP_TIMEOUT);
            if (holders(g, s.images(), s.tag()).size() != s.images().size()) {
                removeLeftovers(qmp, g, s.images(), s.tag());
                throw new StepNotStartedException(new ManagerException("QEMU ended the checkpoint job " + s.jobId()
                        + " without the snapshot " + s.tag() + " on every disk"));
            }
        } finally {
            release(q);
        }
    }

    /**
     * The QEMU died around the save: the snapshot on every image proves the job completed (QEMU
     * writes the snapshot tables last); otherwise what it left goes and the step never happened.
     */
    private void saveWithoutQemu(Step.SaveVm s) throws IOException {
        List<Path> with = new ArrayList<>();
        for (String image : s.images()) {
            if (hasOffline(Path.of(image), s.tag())) {
                with.add(Path.of(image));
            }
        }
        if (with.size() == s.images().size()) {
            return;
        }
        for (Path p : with) {
            files.run(new Step.DeleteInternal("-", p, s.tag()));
        }
        throw new StepNotStartedException(new ManagerException("QEMU ended before the checkpoint " + s.tag()
                + " was saved"));
    }

    /** Below this much free space the file system is the likely reason of a failed VM state write. */
    private static final long NEARLY_FULL_BYTES = 64L << 20;

    /**
     * QEMU reports a full file system as "Input/output error" (its stream keeps no errno); the
     * free space of the image's file system says which it was.
     */
    private static String spaceNote(Path image) {
        try {
            long free = java.nio.file.Files.getFileStore(image).getUsableSpace();
            return free < NEARLY_FULL_BYTES ? " (No space left on device: " + (free >> 10) + " KiB free in the file"
                    + " system of " + image + ")" : "";
        } catch (IOException e) {
            return "";
        }
    }

    private static boolean hasOffline(Path image, String tag) throws IOException {
        try (Qcow2Image img = Qcow2Image.open(image, OpenOptions.readOnlyOpen().withOpenBacking(false))) {
            return img.snapshots().stream().map(SnapshotInfo::name).anyMatch(tag::equals);
        }
    }

    /** The images (of {@code images}) whose node holds the internal snapshot {@code tag}. */
    private static List<String> holders(BlockGraph g, List<String> images, String tag) {
        List<String> out = new ArrayList<>();
        for (String image : images) {
            g.formatNodeOf(Path.of(image)).flatMap(g::node).filter(n -> n.snapshots().contains(tag))
                    .ifPresent(n -> out.add(image));
        }
        return out;
    }

    /** A failed save's partial snapshots (the planner made sure none of that name existed before). */
    private static void removeLeftovers(QmpClient qmp, BlockGraph g, List<String> images, String tag)
            throws QmpException {
        for (String image : holders(g, images, tag)) {
            qmp.execute("blockdev-snapshot-delete-internal-sync", QmpClient.arguments()
                    .put("device", g.formatNodeOf(Path.of(image)).orElseThrow()).put("name", tag),
                    LiveQemu.QMP_TIMEOUT);
        }
    }

    private static ObjectNode jobArgs(BlockGraph g, String jobId, String tag, Path vmstateImage, List<String> images)
            throws ManagerException {
        ObjectNode args = QmpClient.arguments().put("job-id", jobId).put("tag", tag)
                .put("vmstate", node(g, vmstateImage));
        ArrayNode devices = args.putArray("devices");
        for (String image : images) {
            devices.add(node(g, Path.of(image)));
        }
        return args;
    }

    private static String node(BlockGraph g, Path image) throws ManagerException {
        return g.formatNodeOf(image).orElseThrow(() -> new ManagerException("the running QEMU does not hold "
                + image));
    }

    // ---------------------------------------------------------------- revert

    void stop(long pid) throws IOException {
        LiveQemu q = target(pid);
        try {
            // A new plan stops the guest it saw running under this command's lock: no need to ask again.
            if (q != null && (fresh || q.qemuStatus().equals("running"))) {
                q.qmp().execute("stop", null, LiveQemu.QMP_TIMEOUT);
            }
        } finally {
            release(q);
        }
    }

    /** Undo of a StopGuest: the plan stopped a running guest, so it runs again. */
    void unstop(long pid) throws IOException {
        LiveQemu q = target(pid);
        try {
            if (q != null && q.qemuStatus().equals("paused")) {
                q.qmp().execute("cont", null, LiveQemu.QMP_TIMEOUT);
            }
        } finally {
            release(q);
        }
    }

    void startPaused() throws IOException {
        if (restarts == null) {
            throw new ManagerException("starting the domain's QEMU is not possible here; run 'vmsnap start' on it");
        }
        LiveQemu q = target(0);
        if (q != null) {
            release(q);
            return; // started before a crash
        }
        restarts.startPaused();
    }

    void bootAfterRevert(boolean paused) throws IOException {
        if (restarts == null) {
            throw new ManagerException("starting the domain's QEMU is not possible here; run 'vmsnap start' on it");
        }
        LiveQemu q = target(0);
        if (q != null) {
            release(q);
            return; // started before a crash
        }
        restarts.boot(paused);
    }

    void stopForRevert(long pid) throws IOException {
        if (restarts == null) {
            throw new ManagerException("stopping the domain's QEMU is not possible here; run 'vmsnap destroy' on it");
        }
        restarts.stop(pid);
    }

    void startFromMemory(Step.StartFromMemory m) throws IOException {
        if (restarts == null) {
            throw new ManagerException("starting the domain's QEMU is not possible here; run 'vmsnap start' on it");
        }
        LiveQemu q = target(0);
        if (q != null) {
            try {
                if (!q.qemuStatus().equals("inmigrate")) {
                    return; // started and loaded before a crash
                }
            } catch (org.vmsnap.qmp.QmpException e) {
                // not answering: it goes, and QEMU starts again below
            }
            try {
                // One the crash left loading goes first: a second QEMU would not get the images' locks.
                q.signal(true);
                q.awaitExit(java.time.Duration.ofSeconds(10));
            } finally {
                release(q);
            }
        }
        try {
            restarts.startFromMemory(m.file());
        } catch (IOException | RuntimeException e) {
            // QEMU (half-loaded, or never up) goes; the disks stay reverted, the domain shut off.
            MemorySteps.unrestore(new Step.RestoreMemory(m.runDir(), m.runtimeFile(), m.file()));
            restarts.startFailed(e.getMessage() == null ? e.toString() : e.getMessage());
        }
    }

    void load(Step.LoadVm l) throws IOException {
        LiveQemu q = target(l.pid());
        try {
            if (q == null) {
                // No QEMU any more: the images go back offline; the domain stays shut off, at the checkpoint's disks.
                for (String image : l.images()) {
                    files.run(new Step.ApplyInternal("-", Path.of(image), l.tag()));
                }
                return;
            }
            QmpClient qmp = q.qmp();
            if (!fresh && QemuJob.follow(qmp, l.jobId(), LiveExecutor.JOB_TIMEOUT)) {
                return; // the job an earlier process started has ended now
            }
            BlockGraph g = graph(qmp); // the guest is paused: every round trip counts
            try {
                QemuJob.run(qmp, "snapshot-load", jobArgs(g, l.jobId(), l.tag(), l.vmstateImage(), l.images()),
                        LiveExecutor.JOB_TIMEOUT);
            } catch (QmpCommandException e) {
                String why = e.description();
                if (why.contains("while loading VM state") || why.contains("Could not load snapshot")) {
                    // The disks or the memory are half-loaded: this guest cannot go on. QEMU goes;
                    // the next command applies the checkpoint's disks offline (the step again, no QEMU).
                    q.signal(true);
                    q.awaitExit(java.time.Duration.ofSeconds(10));
                    throw new ManagerException("QEMU could not load the checkpoint " + l.tag() + ": " + why
                            + "; the domain was stopped (its disks go back to the checkpoint)", e);
                }
                throw new StepNotStartedException(new ManagerException("QEMU could not load the checkpoint "
                        + l.tag() + ": " + why, e));
            }
        } finally {
            release(q);
        }
    }

    void setRunState(Step.SetRunState r) throws IOException {
        LiveQemu q = target(r.pid());
        try {
            if (q == null) {
                return; // no QEMU: the domain is shut off
            }
            if (fresh && r.running()) {
                // A new plan's guest is stopped here (by its StopGuest, the load, or a paused start):
                // cont at once, the guest is paused until then.
                q.qmp().execute("cont", null, LiveQemu.QMP_TIMEOUT);
                if (restarts != null) {
                    restarts.recordRunState(q, true, r.mayBeFrozen());
                }
                return;
            }
            String status = q.qemuStatus();
            if (r.running() && !status.equals("running")) {
                q.qmp().execute("cont", null, LiveQemu.QMP_TIMEOUT);
            } else if (!r.running() && status.equals("running")) {
                q.qmp().execute("stop", null, LiveQemu.QMP_TIMEOUT);
            }
            if (restarts != null) {
                restarts.recordRunState(q, r.running(), r.mayBeFrozen());
            }
        } finally {
            release(q);
        }
    }
}
