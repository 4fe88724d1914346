package org.vmsnap.manager;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.vmsnap.manager.live.LiveView;
import org.vmsnap.manager.plan.Step;
import org.vmsnap.manager.xml.DiskDef;
import org.vmsnap.manager.xml.Domain;
import org.vmsnap.manager.xml.DomainHardware;
import org.vmsnap.manager.xml.Names;
import org.vmsnap.manager.xml.SnapshotDef;
import org.vmsnap.manager.xml.SnapshotDisk;
import org.vmsnap.manager.xml.SnapshotMode;
import org.vmsnap.qcow2.Images;

/**
 * Plans internal checkpoints of a running domain (disks and memory inside the qcow2 images, as
 * QEMU's savevm keeps them) and reverts to them.
 * <ul>
 * <li>Create: [freeze] QEMU's {@code snapshot-save} job over every disk, the VM state in the
 *     first disk's image [thaw], then the metadata (state running or paused, memory internal).</li>
 * <li>Revert in the running QEMU, when every disk's active image holds the checkpoint and the
 *     disks are the ones it was taken of: pause, {@code snapshot-load}, run or stay paused, then
 *     the metadata. No restart: faster than libvirt, which restarts QEMU.</li>
 * <li>Otherwise: the disks go back as offline (QEMU stopped first), then QEMU starts paused,
 *     loads the checkpoint, and runs or stays paused, all one journaled plan.</li>
 * </ul>
 */
final class CheckpointPlanner {
    private CheckpointPlanner() {
    }

    /**
     * @param running       the guest runs now (else it is paused: the checkpoint's state says so)
     * @param freezeAgent   the agent to freeze through (--quiesce), or null
     */
    static SnapshotDef create(PlanContext ctx, LiveView view, SnapshotDef request, CreateFlags flags, long nowSec,
            boolean running, Path freezeAgent) throws IOException {
        DomainState st = ctx.after;
        String name = request.name() != null ? request.name() : Long.toString(nowSec);
        Names.checkSnapshotName(name);
        if (st.snapshots.containsKey(name)) {
            throw new InvalidInputException("operation failed: domain moment " + name + " already exists");
        }
        if (flags.reuseExternal()) {
            throw new InvalidInputException("unsupported configuration: mixing internal and external targets for a"
                    + " snapshot is not yet supported");
        }
        refusePflash(st.domain);
        Map<String, SnapshotMode> modes = modes(st.domain, request);
        List<SnapshotDisk> recorded = new ArrayList<>();
        List<String> images = new ArrayList<>();
        for (DiskDef disk : st.domain.disks()) {
            SnapshotMode mode = modes.get(disk.target());
            recorded.add(new SnapshotDisk(disk.target(), mode, null, null));
            if (mode != SnapshotMode.INTERNAL) {
                continue;
            }
            String format = disk.isQcow2() ? Images.probeFormat(disk.source()) : disk.format();
            if (!format.equals("qcow2")) {
                throw new InvalidInputException("unsupported configuration: internal snapshot for disk "
                        + disk.target() + " unsupported for storage type " + format);
            }
            String active = view.activeNode(disk.target(), disk.source()).orElse(null);
            if (active == null || !active.equals(view.nodeOf(disk.source()).orElse(null))) {
                throw new ManagerException("disk " + disk.target() + ": QEMU does not run the disk on " + disk.source()
                        + "; the domain's metadata and QEMU disagree: run 'vmsnap recover'");
            }
            if (view.graph().node(active).map(n -> n.snapshots().contains(name)).orElse(false)) {
                throw new InvalidInputException("disk " + disk.target() + ": " + disk.source()
                        + " already holds an internal snapshot named '" + name + "'");
            }
            images.add(disk.source().toString());
        }
        if (images.isEmpty()) {
            throw new InvalidInputException("domain " + st.domain.name() + " has no writable qcow2 disk to hold the"
                    + " checkpoint's memory (QEMU keeps it inside the first disk's image)");
        }
        long pid = view.pid();
        if (freezeAgent != null) {
            ctx.plan.add(new Step.Freeze(pid, freezeAgent, LivePlans.freezeLimitMillis()));
        }
        ctx.plan.add(new Step.SaveVm(pid, ctx.jobId("savevm"), name, Path.of(images.getFirst()), images));
        if (freezeAgent != null) {
            ctx.plan.add(new Step.Thaw(pid, freezeAgent));
        }
        SnapshotDef made = new SnapshotDef(name, request.description(), running ? "running" : "paused", nowSec,
                flags.noMetadata() ? null : st.current, SnapshotMode.INTERNAL, null, recorded, st.domain, freezeAgent != null);
        if (!flags.noMetadata()) {
            st.snapshots.put(name, made);
            st.current = name;
        }
        ctx.finishWithMetadata();
        return made;
    }

    /**
     * The checkpoint's quiesce record as a revert's SetRunState carries it: "yes", "no", or null
     * when the metadata has none (then the guest's agent is asked after the revert, as before).
     */
    static String quiesceRecord(SnapshotDef snap) {
        return snap.quiesced() == null ? null : snap.quiesced() ? "yes" : "no";
    }

    /** QEMU cannot save a VM whose firmware variables live in a pflash drive (raw). */
    private static void refusePflash(Domain d) throws InvalidInputException {
        DomainHardware.Os os = d.hardware().os();
        if (os != null && ("pflash".equals(os.loaderType()) || "efi".equals(os.firmware()) || os.nvram() != null)) {
            throw new InvalidInputException("unsupported configuration: internal snapshots of a VM with pflash based"
                    + " firmware are not supported");
        }
    }

    /** Each disk's mode: internal unless asked for no (or read-only, not a disk); external is refused as libvirt does. */
    private static Map<String, SnapshotMode> modes(Domain domain, SnapshotDef request) throws InvalidInputException {
        Map<String, SnapshotMode> out = new LinkedHashMap<>();
        for (SnapshotDisk asked : request.disks()) {
            DiskDef disk = domain.disks().stream()
                    .filter(d -> d.target().equals(asked.name()) || d.source().toString().equals(asked.name()))
                    .findFirst()
                    .orElseThrow(() -> new InvalidInputException("domain " + domain.name() + " has no disk named '"
                            + asked.name() + "'"));
            if (out.containsKey(disk.target())) {
                throw new InvalidInputException("disk " + disk.target() + " is named twice in the snapshot request");
            }
            if (asked.mode() == SnapshotMode.EXTERNAL || asked.source() != null) {
                throw new InvalidInputException("unsupported configuration: mixing internal and external targets for"
                        + " a snapshot is not yet supported");
            }
            if (asked.mode() == SnapshotMode.MANUAL) {
                throw new InvalidInputException("disk " + disk.target() + ": snapshot='manual' is not supported for a"
                        + " checkpoint");
            }
            out.put(disk.target(), asked.mode() == SnapshotMode.NO ? SnapshotMode.NO : SnapshotMode.INTERNAL);
        }
        for (DiskDef disk : domain.disks()) {
            out.putIfAbsent(disk.target(), disk.readOnly() || !"disk".equals(disk.device()) ? SnapshotMode.NO
                    : SnapshotMode.INTERNAL);
        }
        return out;
    }

    /** The images (in disk order) that hold the checkpoint's disks, the first one its VM state; by the snapshot's domain. */
    private static List<String> images(SnapshotDef snap) throws ManagerException {
        List<String> out = new ArrayList<>();
        for (SnapshotDisk d : snap.disks()) {
            if (d.mode() == SnapshotMode.INTERNAL) {
                DiskDef at = snap.domain().disk(d.name()).orElseThrow(() -> new ManagerException("snapshot '"
                        + snap.name() + "' has no definition of disk " + d.name()));
                out.add(at.source().toAbsolutePath().normalize().toString());
            }
        }
        if (out.isEmpty()) {
            throw new ManagerException("snapshot '" + snap.name() + "' has its memory but no internal disk to hold it");
        }
        return out;
    }

    /**
     * Whether the running QEMU can load the checkpoint itself: the domain has the disks it had
     * then, each on the same image, which is the disk's active image in QEMU and holds the
     * checkpoint.
     */
    static boolean loadsInPlace(PlanContext ctx, LiveView view, SnapshotDef snap) throws ManagerException {
        Domain now = ctx.before.domain;
        Domain then = snap.domain();
        if (then == null || now.disks().size() != then.disks().size()) {
            return false;
        }
        for (DiskDef d : now.disks()) {
            DiskDef t = then.disk(d.target()).orElse(null);
            if (t == null || !t.source().toAbsolutePath().normalize().equals(d.source().toAbsolutePath().normalize())) {
                return false;
            }
        }
        for (SnapshotDisk sd : snap.disks()) {
            if (sd.mode() != SnapshotMode.INTERNAL) {
                continue;
            }
            Path image = now.disk(sd.name()).orElseThrow().source();
            String active = view.activeNode(sd.name(), image).orElse(null);
            if (active == null || !active.equals(view.nodeOf(image).orElse(null))
                    || !view.graph().node(active).map(n -> n.snapshots().contains(snap.name())).orElse(false)) {
                return false;
            }
        }
        return true;
    }

    /** Revert in the running QEMU: pause (when it runs), load, run or stay paused, metadata. */
    static void revertInPlace(PlanContext ctx, LiveView view, SnapshotDef snap, boolean running, boolean wasRunning)
            throws IOException {
        List<String> images = images(snap);
        long pid = view.pid();
        if (wasRunning) {
            ctx.plan.add(new Step.StopGuest(pid));
        }
        ctx.plan.add(new Step.LoadVm(pid, ctx.jobId("loadvm"), snap.name(), Path.of(images.getFirst()), images));
        // The guest runs again (or stays paused) before the metadata is written, not after its
        // fsyncs: the load is irreversible, so a crash from here on finishes the plan either way.
        ctx.plan.add(new Step.SetRunState(pid, running, quiesceRecord(snap)));
        ctx.after.current = snap.name();
        ctx.finishWithMetadata();
    }

    /**
     * Revert by (re)starting QEMU: the disks go back as a shut-off domain's do, then QEMU starts
     * paused and loads the checkpoint. Refused before anything when the VM state could not be
     * loaded (an image holding it has become the backing file of other images).
     */
    static void revertByRestart(PlanContext ctx, SnapshotDef snap, boolean running) throws IOException {
        List<String> images = images(snap);
        RevertPlanner.plan(ctx, snap);
        for (Step s : ctx.plan.steps()) {
            if (s instanceof Step.SnapshotOverlay o) {
                throw new InvalidInputException("revert to checkpoint '" + snap.name() + "' with its memory is not"
                        + " possible: disk " + o.disk() + "'s image " + o.image() + ", which holds it, is now the"
                        + " backing file of other images, and QEMU loads a checkpoint only from a disk's active image;"
                        + " delete the snapshots made on top of it first");
            }
        }
        ctx.plan.add(new Step.StartPaused());
        ctx.plan.add(new Step.LoadVm(0, ctx.jobId("loadvm"), snap.name(), Path.of(images.getFirst()), images));
        ctx.plan.add(new Step.SetRunState(0, running, quiesceRecord(snap)));
    }
}
