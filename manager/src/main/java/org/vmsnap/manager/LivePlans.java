package org.vmsnap.manager;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.vmsnap.manager.live.DiskLayer;
import org.vmsnap.manager.live.LiveExecutor;
import org.vmsnap.manager.live.LiveView;
import org.vmsnap.manager.plan.Step;
import org.vmsnap.qmp.BlockGraph;

/**
 * Turns a plan made for a shut-off domain into one for the same domain running: the planners
 * decide what happens to the data (which overlay, which merge); this decides how, since a file
 * QEMU holds changes only through QEMU.
 * <ul>
 * <li>Snapshots: new overlay files are made as offline, QEMU opens each ({@code blockdev-add}),
 *     then ONE {@code transaction} takes every disk's snapshot at the same instant (external:
 *     {@code blockdev-snapshot}; internal: {@code blockdev-snapshot-internal-sync}), inside a
 *     filesystem freeze when asked to quiesce.</li>
 * <li>Merges of images QEMU holds: {@code block-commit} (an active commit when the top is the
 *     disk's active image) or {@code block-stream}, then QEMU closes the image merged away and
 *     the file goes. The node above a committed image gets its new backing from QEMU itself.</li>
 * <li>Internal snapshots of a disk's active image are deleted by QEMU; QEMU cannot change the
 *     internal snapshots of an image below the active one, so that is refused with the way out.</li>
 * <li>Everything else (metadata, files QEMU does not hold: other branches) stays as it was.</li>
 * </ul>
 */
final class LivePlans {
    private LivePlans() {
    }

    /** How long the guest agent may take to freeze the guest's filesystems (the property: for tests). */
    static long freezeLimitMillis() {
        return Long.getLong("vmsnap.freezeLimitMillis", 60_000);
    }

    static void convert(PlanContext ctx, LiveView view, Path agentSocketToFreeze) throws ManagerException {
        long pid = view.pid();
        List<Step> in = ctx.plan.steps();
        List<Step> out = new ArrayList<>();
        List<Step> opened = new ArrayList<>();
        List<LiveExecutor.Action> actions = new ArrayList<>();
        Set<Path> rebasedByQemu = new HashSet<>();
        boolean flushed = false;
        for (Step s : in) {
            boolean snapshotPart = s instanceof Step.CreateOverlay o && view.holds(o.backing())
                    || s instanceof Step.CreateInternal c && view.holds(c.image());
            if (!snapshotPart && !actions.isEmpty() && !flushed) {
                flush(out, opened, actions, pid, agentSocketToFreeze);
                flushed = true;
            }
            switch (s) {
                case Step.CreateOverlay o when view.holds(o.backing()) -> {
                    String node = active(view, o.disk(), o.backing());
                    DiskLayer layer = view.newLayer(o.overlay(), "qcow2");
                    opened.add(o);
                    opened.add(new Step.BlockdevAdd(pid, o.disk(), o.overlay(), layer.formatNode(), layer.storageNode()));
                    actions.add(new LiveExecutor.Action(false, o.disk(), node, layer.formatNode(), o.overlay()));
                }
                case Step.CreateInternal c when view.holds(c.image()) -> {
                    String node = active(view, c.disk(), c.image());
                    actions.add(new LiveExecutor.Action(true, c.disk(), node, c.snapshot(), c.image()));
                }
                case Step.Commit c when view.holds(c.top()) -> {
                    String top = node(view, c.disk(), c.top());
                    String base = node(view, c.disk(), c.base());
                    boolean isActive = view.graph().backends().stream().anyMatch(b -> top.equals(b.root()));
                    String aboveNode = view.graph().nodes().values().stream().filter(n -> top.equals(n.backing()))
                            .map(BlockGraph.Node::name).findFirst().orElse(null);
                    Path above = aboveNode == null ? null : view.graph().imageFile(aboveNode).orElse(null);
                    if (above != null) {
                        rebasedByQemu.add(above);
                    }
                    String baseFormat = view.graph().node(base).map(BlockGraph.Node::driver).orElse("qcow2");
                    out.add(new Step.BlockCommit(pid, c.disk(), ctx.jobId("commit"), top, base, isActive, c.top(),
                            c.base(), baseFormat, above));
                    out.add(new Step.BlockdevDel(pid, c.disk(), top, c.top()));
                }
                case Step.Rebase r when !r.safe() && rebasedByQemu.contains(r.image()) -> {
                    // block-commit has already pointed the image above the committed one at the base
                }
                case Step.Rebase r when r.safe() && view.holds(r.image()) -> {
                    String node = node(view, r.disk(), r.image());
                    String oldBacking = view.graph().node(node).map(BlockGraph.Node::backing).orElse(null);
                    Path baseFile = oldBacking == null ? null : view.graph().imageFile(oldBacking).orElse(null);
                    String newBacking = r.newBacking() == null ? null : node(view, r.disk(), r.newBacking());
                    out.add(new Step.BlockStream(pid, r.disk(), ctx.jobId("stream"), node, newBacking, r.image(),
                            baseFile, r.newBacking(), r.newBackingFormat()));
                    if (oldBacking != null) {
                        out.add(new Step.BlockdevDel(pid, r.disk(), oldBacking, baseFile));
                    }
                }
                case Step.Rebase r when view.holds(r.image()) -> throw new ManagerException("disk " + r.disk() + ": "
                        + r.image() + " is open in the running QEMU; its backing file cannot be changed by hand");
                case Step.DeleteInternal d when view.holds(d.image()) -> {
                    String node = node(view, d.disk(), d.image());
                    if (view.graph().backends().stream().noneMatch(b -> node.equals(b.root()))) {
                        throw new InvalidInputException("disk " + d.disk() + ": the internal snapshot " + d.snapshot()
                                + " is inside " + d.image() + ", below the disk's active image; QEMU can delete"
                                + " internal snapshots only in the active image: shut the domain off first, or use"
                                + " --metadata to drop only the metadata");
                    }
                    out.add(new Step.LiveDeleteInternal(pid, d.disk(), node, d.image(), d.snapshot()));
                }
                case Step.ApplyInternal a when view.holds(a.image()) -> throw openInQemu(a.disk(), a.image());
                case Step.RenameInternal r when view.holds(r.image()) -> throw new InvalidInputException("disk "
                        + r.disk() + ": the internal snapshot " + r.from() + " in " + r.image() + " cannot be renamed"
                        + " while QEMU runs the domain (QEMU cannot rename internal snapshots): shut it off first");
                case Step.SnapshotOverlay o when view.holds(o.image()) -> throw openInQemu(o.disk(), o.image());
                default -> out.add(s);
            }
        }
        if (!actions.isEmpty() && !flushed) {
            flush(out, opened, actions, pid, agentSocketToFreeze);
        }
        ctx.plan.replaceSteps(out);
    }

    /** The new overlays opened by QEMU, then freeze, the one transaction, thaw. */
    private static void flush(List<Step> out, List<Step> opened, List<LiveExecutor.Action> actions, long pid,
            Path agentSocket) {
        out.addAll(opened);
        if (agentSocket != null) {
            out.add(new Step.Freeze(pid, agentSocket, freezeLimitMillis()));
        }
        out.add(new Step.SnapshotTransaction(pid, LiveExecutor.encode(actions)));
        if (agentSocket != null) {
            out.add(new Step.Thaw(pid, agentSocket));
        }
    }

    /** The node of a disk's active image, which must be {@code image}. */
    private static String active(LiveView view, String disk, Path image) throws ManagerException {
        String node = view.activeNode(disk, image).orElseThrow(() -> new ManagerException("disk " + disk
                + ": the running QEMU has no device for it"));
        String holder = node(view, disk, image);
        if (!holder.equals(node)) {
            throw new ManagerException("disk " + disk + ": QEMU runs the disk on node " + node + ", not on " + image
                    + " (node " + holder + "); the domain's metadata and QEMU disagree: run 'vmsnap recover'");
        }
        return node;
    }

    private static String node(LiveView view, String disk, Path image) throws ManagerException {
        return view.nodeOf(image).orElseThrow(() -> new ManagerException("disk " + disk + ": the running QEMU does"
                + " not hold " + image));
    }

    private static ManagerException openInQemu(String disk, Path image) {
        return new ManagerException("disk " + disk + ": " + image + " is open in the running QEMU");
    }
}
