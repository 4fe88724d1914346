package org.vmsnap.manager.live;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import org.vmsnap.manager.ManagerException;
import org.vmsnap.manager.plan.MadeFiles;
import org.vmsnap.manager.plan.OfflineExecutor;
import org.vmsnap.manager.plan.Step;
import org.vmsnap.manager.plan.StepNotStartedException;
import org.vmsnap.qcow2.OpenOptions;
import org.vmsnap.qcow2.Qcow2Image;
import org.vmsnap.qcow2.SnapshotInfo;
import org.vmsnap.qmp.BlockGraph;
import org.vmsnap.qmp.MemoryFileWriter;
import org.vmsnap.qmp.MemoryStream;
import org.vmsnap.qmp.QemuJob;
import org.vmsnap.qmp.QmpClient;
import org.vmsnap.qmp.QmpCommandException;
import org.vmsnap.qmp.QmpException;

/**
 * The steps of a checkpoint taken with {@code --live} (internal, or external with a memory file):
 * QEMU copies the guest's memory into a memory file while it runs, stops it for the last pass and
 * waits there ({@code pause-before-switchover}); in that pause, with the images still active, one
 * {@code transaction} takes every disk's snapshot (internal, or the external overlays the plan
 * opened before); then the migration ends, {@code cont} runs the guest again (and reactivates the
 * images), and only then is the file synced and linked: the guest's pause holds no file or journal
 * sync.
 *
 * <p>The save in progress lives in this object between the steps of one plan: a vmsnap that died
 * took QEMU's stream with it, so a later one can only undo (every step here is reversible).
 * Undo order matters on QEMU 7.2: a snapshot is deleted only from active images (a delete in an
 * image inactivated by a finished migration aborts QEMU), so a finished migration is followed by
 * {@code cont} first.
 */
final class SwitchoverSteps {
    /** How long a cancelled migration may take to end (QEMU resumes the guest when it has). */
    private static final Duration CANCEL_TIMEOUT = Duration.ofSeconds(30);

    private final OfflineExecutor files;
    private MemoryStream.Switchover held;

    SwitchoverSteps(OfflineExecutor files) {
        this.files = files;
    }

    void save(QmpClient qmp, Step.SaveToSwitchover s) throws IOException {
        if (qmp == null) {
            throw new StepNotStartedException(new ManagerException("QEMU ended before its memory was saved"));
        }
        if (!status(qmp).equals("running")) {
            throw new StepNotStartedException(new ManagerException("the guest is not running (QEMU status "
                    + status(qmp) + "): --live needs a running guest"));
        }
        MemorySteps.liveParameters(qmp);
        MemoryFileWriter w = MemoryFileWriter.create(s.file(), s.partial(), s.domainXml(), true,
                MemoryFileWriter.defaultCompression());
        try {
            held = MemoryStream.saveToSwitchover(qmp, s.socketDir(), w, MemorySteps.SAVE_TIMEOUT);
        } catch (IOException | RuntimeException e) {
            w.close(); // removes the partial file: nothing of this step is left
            throw new StepNotStartedException(e instanceof IOException io ? io : new IOException(e));
        }
    }

    void snapshots(QmpClient qmp, Step.SnapshotAtSwitchover t) throws IOException {
        if (qmp == null || held == null) {
            throw new StepNotStartedException(new ManagerException("the save that held the guest at its last pass"
                    + " is gone (QEMU or vmsnap ended)"));
        }
        // The guest is paused from here to the cont in finish: no query to QEMU first (the held
        // save knows from QEMU's events that it still waits), and the save is let go right behind
        // the transaction, without waiting for its reply (QEMU runs the two in order).
        try {
            held.requireHeld();
        } catch (QmpCommandException e) {
            throw new StepNotStartedException(new ManagerException(e.description()
                    + ": the disks' snapshots would not be of the memory's moment", e));
        }
        ArrayNode list = JsonNodeFactory.instance.arrayNode();
        for (String encoded : t.actions()) {
            LiveExecutor.Action a = LiveExecutor.Action.decode(encoded);
            ObjectNode data = a.internal()
                    ? QmpClient.arguments().put("device", a.node()).put("name", a.overlayNodeOrName())
                    : QmpClient.arguments().put("node", a.node()).put("overlay", a.overlayNodeOrName());
            list.add(QmpClient.arguments().put("type", a.internal() ? "blockdev-snapshot-internal-sync"
                    : "blockdev-snapshot").<ObjectNode>set("data", data));
        }
        var transaction = qmp.executeAsync("transaction", QmpClient.arguments().set("actions", list));
        held.letGo();
        try {
            qmp.reply(transaction, "transaction", LiveQemu.QMP_TIMEOUT);
        } catch (QmpCommandException e) {
            // Nothing of this step is left to undo: QEMU made no snapshot, and the save that went
            // on is the previous step's to undo (cont, the file removed).
            throw new StepNotStartedException(new ManagerException("QEMU refused the disks' snapshots: "
                    + e.getMessage(), e));
        }
    }

    void finish(QmpClient qmp, Step.FinishSwitchover f) throws IOException {
        if (qmp == null || held == null) {
            throw new StepNotStartedException(new ManagerException("the save that held the guest at its last pass"
                    + " is gone (QEMU or vmsnap ended)"));
        }
        held.finish(() -> resumeAfterCompletion(qmp));
        held.writer().publish();
        MemoryStream.Switchover h = held;
        held = null;
        h.close();
        h.writer().close();
    }

    /**
     * Undo of the disks' snapshots: the internal ones that exist go (the plan checked that none of
     * the name existed); an external overlay QEMU has put on top goes back into the image below it
     * (an active block-commit: the guest may have written into it since cont), after which the
     * BlockdevAdd's undo removes its node and the CreateOverlay's its file.
     */
    void unsnapshot(QmpClient qmp, Step.SnapshotAtSwitchover t) throws IOException {
        List<LiveExecutor.Action> actions = t.actions().stream().map(LiveExecutor.Action::decode).toList();
        if (qmp == null) {
            for (LiveExecutor.Action a : actions) {
                if (a.internal() && hasOffline(a.image(), a.overlayNodeOrName())) {
                    files.run(new Step.DeleteInternal(a.disk(), a.image(), a.overlayNodeOrName()));
                } else if (!a.internal() && Files.exists(a.image())) {
                    commitOffline(a);
                }
            }
            return;
        }
        settle(qmp);
        BlockGraph g = BlockGraph.query(qmp, LiveQemu.QMP_TIMEOUT);
        for (LiveExecutor.Action a : actions) {
            if (a.internal()) {
                if (g.node(a.node()).map(n -> n.snapshots().contains(a.overlayNodeOrName())).orElse(false)) {
                    qmp.execute("blockdev-snapshot-delete-internal-sync", QmpClient.arguments()
                            .put("device", a.node()).put("name", a.overlayNodeOrName()), LiveQemu.QMP_TIMEOUT);
                }
            } else {
                String jobId = "undo-" + a.overlayNodeOrName();
                if (QemuJob.follow(qmp, jobId, LiveExecutor.JOB_TIMEOUT)) {
                    continue; // an undo that a crash interrupted has ended now
                }
                if (g.inUse(a.overlayNodeOrName())
                        && g.node(a.overlayNodeOrName()).map(n -> a.node().equals(n.backing())).orElse(false)) {
                    QemuJob.run(qmp, "block-commit", QmpClient.arguments().put("job-id", jobId)
                            .put("device", a.overlayNodeOrName()).put("base-node", a.node())
                            .put("auto-dismiss", false), LiveExecutor.JOB_TIMEOUT);
                }
            }
        }
    }

    /**
     * QEMU is gone: whatever the guest wrote into the overlay goes into the image below it (nothing
     * when the transaction never ran), so that removing the overlay loses nothing.
     */
    private void commitOffline(LiveExecutor.Action a) throws IOException {
        String backing;
        try (Qcow2Image img = Qcow2Image.open(a.image(), OpenOptions.readOnlyOpen().withOpenBacking(false))) {
            backing = img.backingFileName();
        }
        if (backing != null) {
            Path base = a.image().toAbsolutePath().getParent().resolve(backing);
            files.run(new Step.Commit(a.disk(), a.image(), base));
        }
    }

    /**
     * Undo of the save (either step): the migration is cancelled and its end awaited (QEMU then
     * runs the guest again), a finished one is followed by cont; the file goes when it is this
     * plan's (its partial link proves it).
     */
    void unsave(QmpClient qmp, Path file, Path partial) throws IOException {
        MemoryStream.Switchover h = held;
        held = null;
        if (h != null) {
            h.close(); // cancels a migration still held
            h.writer().close(); // removes the partial file unless published
        }
        if (qmp != null) {
            settle(qmp);
        }
        if (MadeFiles.isOurs(file, partial)) {
            Files.delete(file);
        }
        MemoryFileWriter.dropPartial(partial);
    }

    /**
     * Brings QEMU to a settled, running guest with active images: a held or running migration is
     * cancelled and its end awaited (QEMU resumes the guest itself), a finished one (images
     * inactive) gets cont.
     */
    private static void settle(QmpClient qmp) throws IOException {
        long deadline = System.nanoTime() + CANCEL_TIMEOUT.toNanos();
        while (true) {
            String m = migrationStatus(qmp);
            switch (m) {
                case "setup", "active", "pre-switchover", "wait-unplug" ->
                        qmp.execute("migrate_cancel", null, LiveQemu.QMP_TIMEOUT);
                case "device", "cancelling" -> {
                    // QEMU ends it (no reader: it fails). Not cancelled in "device": the images may be
                    // inactive then, and QEMU 7.2 would run the guest on them (MemoryStream.Switchover.close).
                }
                default -> {
                    String s = status(qmp);
                    if (s.equals("postmigrate") || s.equals("paused")) {
                        qmp.execute("cont", null, LiveQemu.QMP_TIMEOUT); // the guest ran before the save
                        return;
                    }
                    if (!s.equals("finish-migrate")) {
                        return;
                    }
                }
            }
            if (System.nanoTime() > deadline) {
                throw new ManagerException("QEMU did not end the cancelled save of the guest's memory within "
                        + CANCEL_TIMEOUT.toSeconds() + " s (migration status " + m + ")");
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ManagerException("interrupted while QEMU ended the cancelled save");
            }
        }
    }

    private static boolean hasOffline(Path image, String tag) throws IOException {
        if (!Files.exists(image)) {
            return false;
        }
        try (Qcow2Image img = Qcow2Image.open(image, OpenOptions.readOnlyOpen().withOpenBacking(false))) {
            return img.snapshots().stream().map(SnapshotInfo::name).anyMatch(tag::equals);
        }
    }

    /**
     * cont as soon as QEMU takes it: the MIGRATION completed event comes from the migration thread
     * a moment before QEMU's run state leaves finish-migrate for postmigrate, and until then QEMU
     * refuses cont ("Migration is not finalized yet"); it is sent again at once (no query-status
     * between: each round trip would be in the guest's pause).
     */
    private static void resumeAfterCompletion(QmpClient qmp) throws IOException {
        long deadline = System.nanoTime() + CANCEL_TIMEOUT.toNanos();
        while (true) {
            try {
                qmp.execute("cont", null, LiveQemu.QMP_TIMEOUT);
                return;
            } catch (QmpCommandException e) {
                if (!e.description().contains("not finalized") || System.nanoTime() > deadline) {
                    throw e;
                }
            }
            Thread.onSpinWait();
        }
    }

    private static String migrationStatus(QmpClient qmp) throws QmpException {
        return qmp.execute("query-migrate", null, LiveQemu.QMP_TIMEOUT).path("status").asText("none");
    }

    private static String status(QmpClient qmp) throws QmpException {
        return qmp.execute("query-status", null, LiveQemu.QMP_TIMEOUT).path("status").asText();
    }
}
