package org.vmsnap.manager;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

import org.vmsnap.manager.plan.Step;
import org.vmsnap.qcow2.BlockDevice;
import org.vmsnap.qcow2.ImageFiles;
import org.vmsnap.qcow2.Images;
import org.vmsnap.qcow2.OpenOptions;

/**
 * Before the first step of a plan: every image a step will write can be opened for writing now,
 * every image a step reads can be opened for reading (no QEMU writes it), and no other process
 * holds a file that the plan discards (a disk's current image, an image merged away). So a plan
 * does not stop half-way, nor leave one disk changed and another not, for a reason that was
 * visible before it started; nothing is changed when this fails.
 */
final class Preflight {
    private Preflight() {
    }

    static void check(PlanContext ctx) throws IOException {
        check(ctx, p -> false);
    }

    /**
     * @param qemuHolds the files the running QEMU holds: the plan changes them through QEMU (live
     *                  steps), so their locks are QEMU's and not checked here
     */
    static void check(PlanContext ctx, java.util.function.Predicate<Path> qemuHolds) throws IOException {
        Map<Path, String> written = new LinkedHashMap<>();
        Map<Path, String> read = new LinkedHashMap<>();
        for (Step s : ctx.plan.steps()) {
            switch (s) {
                case Step.CreateInternal c -> written.putIfAbsent(c.image(), c.disk());
                case Step.ApplyInternal a -> written.putIfAbsent(a.image(), a.disk());
                case Step.DeleteInternal d -> written.putIfAbsent(d.image(), d.disk());
                case Step.RenameInternal r -> written.putIfAbsent(r.image(), r.disk());
                case Step.Commit c -> {
                    written.putIfAbsent(c.base(), c.disk());
                    written.putIfAbsent(c.top(), c.disk());
                }
                case Step.Rebase r -> written.putIfAbsent(r.image(), r.disk());
                case Step.CreateOverlay o -> read.putIfAbsent(o.backing(), o.disk());
                case Step.SnapshotOverlay o -> read.putIfAbsent(o.image(), o.disk());
                default -> { }
            }
        }
        written.keySet().removeIf(qemuHolds);
        read.keySet().removeIf(qemuHolds);
        for (Map.Entry<Path, String> e : written.entrySet()) {
            open(e.getKey(), e.getValue(), OpenOptions.readWrite().withOpenBacking(false), "opened for writing");
        }
        for (Map.Entry<Path, String> e : read.entrySet()) {
            if (!written.containsKey(e.getKey())) {
                open(e.getKey(), e.getValue(), OpenOptions.readOnlyOpen().withOpenBacking(false),
                        "opened for reading");
            }
        }
        Set<Path> discarded = new java.util.LinkedHashSet<>(ctx.before.currentTops());
        discarded.addAll(ctx.mergedAway);
        for (Step s : ctx.plan.steps()) {
            if (s instanceof Step.RemoveFile r && discarded.contains(r.file()) && !qemuHolds.test(r.file())
                    && ImageFiles.inUse(r.file())) {
                throw new ManagerException("disk " + r.disk() + ": " + r.file() + " is in use by another process"
                        + " (it holds QEMU's lock on it), and this operation would remove it; stop that process"
                        + " first (nothing was changed)");
            }
        }
    }

    private static void open(Path p, String disk, OpenOptions options, String how) throws IOException {
        try (BlockDevice d = Images.open(p, options)) {
            // opened and closed unchanged
        } catch (IOException e) {
            throw new ManagerException("disk " + disk + ": " + p + ": cannot be " + how + ": " + reason(p, e)
                    + " (nothing was changed)", e);
        }
    }

    /** The exception's message without the file name it may start with (the caller names it). */
    private static String reason(Path p, IOException e) {
        String m = e.getMessage() == null ? e.toString() : e.getMessage();
        return m.startsWith(p + ": ") ? m.substring(p.toString().length() + 2) : m;
    }
}
