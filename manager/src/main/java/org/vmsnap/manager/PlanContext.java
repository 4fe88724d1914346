package org.vmsnap.manager;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

import org.vmsnap.manager.plan.Plan;
import org.vmsnap.manager.plan.Step;
import org.vmsnap.manager.store.DomainStore;
import org.vmsnap.manager.xml.DiskDef;

/** What a planner works with: the stored state, the state it is building, the images, the plan. */
final class PlanContext {
    final DomainStore store;
    final DomainState before;
    final DomainState after;
    final ImageGraph graph;
    final Plan plan;
    /** Files whose data now lives in another image; removed after the metadata is written. */
    final Set<Path> mergedAway = new java.util.LinkedHashSet<>();

    PlanContext(DomainStore store, DomainState before, ImageGraph graph, String what) {
        this.store = store;
        this.before = before;
        this.after = before.copy();
        this.graph = graph;
        this.plan = new Plan(what);
    }

    static PlanContext open(DomainStore store, DomainState state, String what) throws IOException {
        return new PlanContext(store, state, ImageGraph.read(state.namedFiles()), what);
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

    /** Appends the metadata writes, then removes the image files nothing needs any more. */
    void finishWithMetadata() throws IOException {
        Set<Path> removed = new java.util.LinkedHashSet<>(mergedAway);
        removed.addAll(Garbage.collect(after, graph));
        emitMetadata();
        for (Path p : removed) {
            plan.add(new Step.RemoveFile(diskOf(p), p));
        }
    }

    /** Appends the metadata writes that turn the stored state into {@link #after} (state folder and mirror). */
    void emitMetadata() throws IOException {
        after.emitChanges(before, store, mirror(after), plan);
    }

    /** A name for a new image beside {@code image}: {@code <stem>.<suffix>}, or with -N if that is taken. */
    Path freshName(Path image, String suffix) {
        Path dir = image.toAbsolutePath().getParent();
        String stem = stem(image);
        Set<Path> named = after.namedFiles();
        Path p = dir.resolve(stem + "." + suffix);
        for (int n = 1; Files.exists(p) || graph.exists(p) || named.contains(p); n++) {
            p = dir.resolve(stem + "." + suffix + "-" + n);
        }
        return p;
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
