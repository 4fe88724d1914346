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
import org.vmsnap.qmp.QmpClient;
import org.vmsnap.qmp.QmpCommandException;
import org.vmsnap.qmp.QmpException;

/**
 * The steps of an internal checkpoint taken with {@code --live}: QEMU copies the guest's memory
 * into a memory file while it runs, stops it for the last pass and waits there
 * ({@code pause-before-switchover}); in that pause, with the images still active, one
 * {@code transaction} takes every disk's internal snapshot; then the migration ends, {@code cont}
 * runs the guest again (and reactivates the images), and the file is synced and linked.
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
        String migration = migrationStatus(qmp);
        if (!migration.equals("pre-switchover")) {
            throw new StepNotStartedException(new ManagerException("QEMU's save is '" + migration
                    + "', not held at its last pass: the disks' snapshots would not be of the memory's moment"));
        }
        // No look at the block graph first: this runs while the guest is paused, and only this
        // process can be here (a later one undoes).
        ArrayNode list = JsonNodeFactory.instance.arrayNode();
        for (String encoded : t.actions()) {
            LiveExecutor.Action a = LiveExecutor.Action.decode(encoded);
            list.add(QmpClient.arguments().put("type", "blockdev-snapshot-internal-sync").<ObjectNode>set("data",
                    QmpClient.arguments().put("device", a.node()).put("name", a.overlayNodeOrName())));
        }
        try {
            qmp.execute("transaction", QmpClient.arguments().set("actions", list), LiveQemu.QMP_TIMEOUT);
        } catch (QmpCommandException e) {
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

    /** Undo of the disks' snapshots: those that exist go (the plan checked that none of the name existed). */
    void unsnapshot(QmpClient qmp, Step.SnapshotAtSwitchover t) throws IOException {
        List<LiveExecutor.Action> actions = t.actions().stream().map(LiveExecutor.Action::decode).toList();
        if (qmp == null) {
            for (LiveExecutor.Action a : actions) {
                if (hasOffline(a.image(), a.overlayNodeOrName())) {
                    files.run(new Step.DeleteInternal(a.disk(), a.image(), a.overlayNodeOrName()));
                }
            }
            return;
        }
        settle(qmp);
        BlockGraph g = BlockGraph.query(qmp, LiveQemu.QMP_TIMEOUT);
        for (LiveExecutor.Action a : actions) {
            if (g.node(a.node()).map(n -> n.snapshots().contains(a.overlayNodeOrName())).orElse(false)) {
                qmp.execute("blockdev-snapshot-delete-internal-sync", QmpClient.arguments().put("device", a.node())
                        .put("name", a.overlayNodeOrName()), LiveQemu.QMP_TIMEOUT);
            }
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
                case "setup", "active", "device", "pre-switchover", "wait-unplug" ->
                        qmp.execute("migrate_cancel", null, LiveQemu.QMP_TIMEOUT);
                case "cancelling" -> {
                    // QEMU ends it
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
     * cont once QEMU has left finish-migrate: the MIGRATION completed event comes from the
     * migration thread a moment before it sets postmigrate, and a cont before that would have the
     * guest running in a state QEMU then marks postmigrate.
     */
    private static void resumeAfterCompletion(QmpClient qmp) throws IOException {
        long deadline = System.nanoTime() + CANCEL_TIMEOUT.toNanos();
        String s;
        while ((s = status(qmp)).equals("finish-migrate")) {
            if (System.nanoTime() > deadline) {
                throw new ManagerException("QEMU did not end its save within " + CANCEL_TIMEOUT.toSeconds()
                        + " s after the migration completed (status finish-migrate)");
            }
            Thread.onSpinWait();
        }
        if (s.equals("postmigrate") || s.equals("paused")) {
            qmp.execute("cont", null, LiveQemu.QMP_TIMEOUT);
        }
    }

    private static String migrationStatus(QmpClient qmp) throws QmpException {
        return qmp.execute("query-migrate", null, LiveQemu.QMP_TIMEOUT).path("status").asText("none");
    }

    private static String status(QmpClient qmp) throws QmpException {
        return qmp.execute("query-status", null, LiveQemu.QMP_TIMEOUT).path("status").asText();
    }
}
