package org.vmsnap.manager;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Which image files can go: only files vmsnap created, and only when nothing needs them (not a
 * disk's current image, not the image of any snapshot, no internal snapshots inside, no image
 * using it as its backing file). Removing one can free its backing file, so it repeats.
 */
final class Garbage {
    private Garbage() {
    }

    /**
     * The owned files to remove. They stay in {@code state.owned}: the removal step drops each
     * from the owned list once the file is gone. {@code leaving}: files the plan already removes.
     */
    static Set<Path> collect(DomainState state, ImageGraph graph, Set<Path> leaving) {
        Set<Path> removed = new LinkedHashSet<>();
        boolean changed = true;
        while (changed) {
            changed = false;
            Set<Path> tops = state.currentTops();
            Set<Path> pinned = state.pinned();
            List<Path> candidates = new ArrayList<>(state.owned);
            for (Path p : candidates) {
                if (removed.contains(p) || leaving.contains(p)) {
                    continue;
                }
                ImageGraph.Node n = graph.node(p);
                if (n == null) {
                    state.owned.remove(p); // gone already
                    changed = true;
                    continue;
                }
                if (tops.contains(p) || pinned.contains(p) || !n.internal.isEmpty()
                        || !graph.dependents(p).isEmpty()) {
                    continue;
                }
                graph.remove(p);
                removed.add(p);
                changed = true;
            }
        }
        return removed;
    }
}
