package org.vmsnap.manager;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import org.vmsnap.manager.plan.MadeFiles;
import org.vmsnap.manager.plan.Plan;
import org.vmsnap.manager.plan.Step;
import org.vmsnap.manager.store.DomainStore;
import org.vmsnap.manager.xml.DiskDef;

/** What a planner works with: the stored state, the state it is building, the images, the plan. */
final class PlanContext {
    final DomainStore store;
    final DomainState before;
    final DomainState after;
    /** The image files of the domain as they were when the plan began, read when first asked for. */
    private final java.util.List<Path> graphRoots;
    private ImageGraph graph;
    final Plan plan;
    /** Files whose data now lives in another image; removed after the metadata is written. */
    final Set<Path> mergedAway = new java.util.LinkedHashSet<>();
    /** Partial links of the files this plan makes (see {@code MadeFiles}); dropped at its end. */
    private final List<Path> partials = new ArrayList<>();
    /** Names the partial links of this plan apart from any other plan's. */
    private final String planId = randomId();

    PlanContext(DomainStore store, DomainState before, String what) {
        this.store = store;
        this.before = before;
        this.after = before.copy();
        this.graphRoots = List.copyOf(before.namedFiles());
        this.plan = new Plan(what);
    }

    /**
     * The image graph (each file's format, backing file and internal snapshots), read from the
     * images the first time a planner asks: a plan that needs none of it (a checkpoint loaded in
     * the running QEMU, with no owned file or waiting delete to settle) opens no image, which was
     * 0.1 s of such a revert (the first qcow2 open of a command). Read under the domain lock
     * before any step runs, so what it shows is what it would have shown when the plan began.
     */
    ImageGraph graph() throws IOException {
        if (graph == null) {
            graph = ImageGraph.read(graphRoots);
        }
        return graph;
    }

    /**
     * 16 hex digits from the kernel's random source. Read directly rather than through
     * SecureRandom, whose first use loads the JDK's security providers (20-40 ms of an offline
     * command's start-up); SecureRandom (the same source underneath) is the fallback.
     */
    private static String randomId() {
        byte[] b = new byte[8];
        try (java.io.InputStream in = new java.io.FileInputStream("/dev/urandom")) {
            if (in.readNBytes(b, 0, b.length) != b.length) {
                throw new IOException("short read");
            }
        } catch (IOException e) {
            new java.security.SecureRandom().nextBytes(b);
        }
        return java.util.HexFormat.of().formatHex(b);
    }

    static PlanContext open(DomainStore store, DomainState state, String what) throws IOException {
        return new PlanContext(store, state, what);
    }

    /**
     * The mirror of the metadata beside the images (folder of the first disk), from which
     * {@code recover} takes names and descriptions when the state folder is lost.
     */
    static Path mirror(DomainState s) {
        for (DiskDef d : s.domain.disks()) {
            return d.source().toAbsolutePath().getParent().resolve("." + s.domain.name() + ".vmsnap");
        }
        return null;
    }

    /**
     * Appends the metadata writes, then the removal of the image files nothing needs any more
     * (they stay in the owned list until they are gone: one another process holds is kept and
     * removed by a later command), then the end of the partial links.
     */
    void finishWithMetadata() throws IOException {
        Set<Path> removed = new java.util.LinkedHashSet<>(mergedAway);
        if (!after.owned.isEmpty()) { // (no owned file: nothing to collect, no image to read)
            removed.addAll(Garbage.collect(after, graph(), mergedAway));
        }
        removing = removed;
        emitMetadata();
        Path mirror = mirror(after);
        for (Path p : removed) {
            plan.add(new Step.RemoveFile(diskOf(p), p, store.ownedFile(),
                    mirror == null ? null : mirror.resolve("owned")));
        }
        finishPendingDeletes();
        dropPartials();
    }

    /**
     * Files QEMU holds, and which of them are a disk's active image (QEMU changes internal
     * snapshots only there); none while the domain is shut off.
     */
    java.util.function.Predicate<Path> qemuHolds = p -> false;
    /** The running QEMU's view, or null while the domain is shut off. */
    org.vmsnap.manager.live.LiveView live;
    java.util.function.Predicate<Path> qemuActive = p -> false;

    /**
     * An internal snapshot to delete that lies below a running disk's active image cannot be
     * deleted now (QEMU holds the image and cannot delete it there): it waits in the pending list.
     */
    boolean mustDefer(Path image) {
        return qemuHolds.test(image) && !qemuActive.test(image);
    }

    /** The pending internal snapshots whose image no QEMU holds now are deleted at the plan's end. */
    void finishPendingDeletes() throws IOException {
        Path mirror = mirror(after);
        for (org.vmsnap.manager.store.DomainStore.PendingDelete p : List.copyOf(after.pending)) {
            ImageGraph.Node n = graph().node(p.image());
            if (n == null || !n.internal.contains(p.snapshot())) {
                continue; // gone already: the next metadata write drops it
            }
            if (!qemuHolds.test(p.image())) {
                plan.add(new Step.DeletePending(diskOf(p.image()), p.image(), p.snapshot(), store.pendingFile(),
                        mirror == null ? null : mirror.resolve("pending-deletes")));
            }
        }
    }

    /** Files this plan would remove: the current images it discards and the images it merges away. */
    Set<Path> removals() {
        Set<Path> out = new java.util.LinkedHashSet<>();
        for (Step s : plan.steps()) {
            if (s instanceof Step.RemoveFile r) {
                out.add(r.file());
            }
        }
        return out;
    }

    /** The partial name under which a step of this plan makes {@code target} (see {@code MadeFiles}). */
    Path partialFor(Path target) {
        Path p = target.toAbsolutePath().getParent()
                .resolve(MadeFiles.PARTIAL_PREFIX + planId + "-" + (++partialCount));
        partials.add(p);
        return p;
    }

    /** Partial names handed out (not the list's size: dropPartials empties the list, names stay taken). */
    private int partialCount;

    /** A QEMU job id unique to this plan: {@code vmsnap-<kind>-<plan id>-<n>}. */
    String jobId(String kind) {
        return "vmsnap-" + kind + "-" + planId.substring(0, 8) + "-" + (++jobs);
    }

    private int jobs;

    /** Appends the steps that drop this plan's partial links (after every step that could undo a file). */
    void dropPartials() {
        for (Path p : partials) {
            plan.add(new Step.DropLink(p));
        }
        partials.clear();
    }

    /** The image files this plan removes at its end (set before its metadata is written). */
    private Set<Path> removing = Set.of();

    /** Appends the metadata writes that turn the stored state into {@link #after} (state folder and mirror). */
    void emitMetadata() throws IOException {
        after.emitChanges(before, store, mirror(after), plan, removing);
    }

    /**
     * A name for a new image of a disk beside {@code image}: {@code <stem>.<suffix>}, with
     * {@code -N} only if that is taken, where the stem is the disk's own (that of the first image
     * down the chain that vmsnap did not make), so names do not pile up over reverts and deletes.
     */
    Path freshName(Path image, String suffix) throws IOException {
        Path dir = image.toAbsolutePath().getParent();
        String stem = diskStem(image);
        Set<Path> named = after.namedFiles();
        Path p = dir.resolve(stem + "." + suffix);
        for (int n = 1; Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS) || graph().exists(p)
                || named.contains(p); n++) {
            p = dir.resolve(stem + "." + suffix + "-" + n);
        }
        return p;
    }

    /** The stem of the image the disk started from: the first one down the chain vmsnap did not make. */
    String diskStem(Path image) throws IOException {
        Path p = image.toAbsolutePath().normalize();
        Path last = p;
        java.util.Set<Path> seen = new java.util.HashSet<>();
        while (p != null && seen.add(p)) {
            last = p;
            if (!before.owned.contains(p) && !after.owned.contains(p)) {
                return stem(p);
            }
            ImageGraph.Node n = graph().node(p);
            p = n == null ? null : n.backing;
        }
        return stem(last);
    }

    /** An image's file name without its last extension ({@code disk.qcow2} -> {@code disk}), as virsh names overlays. */
    static String stem(Path image) {
        String name = image.getFileName().toString();
        int dot = name.lastIndexOf('.');
        return dot > 0 ? name.substring(0, dot) : name;
    }

    /** The default external file name (virsh's): the image's path without its extension, dot, snapshot name. */
    static Path defaultOverlay(Path image, String snapshot) {
        return image.toAbsolutePath().getParent().resolve(stem(image) + "." + snapshot);
    }

    String diskOf(Path p) {
        for (DiskDef d : before.domain.disks()) {
            if (d.source().equals(p)) {
                return d.target();
            }
        }
        return "-";
    }
}
