package org.vmsnap.manager;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.vmsnap.manager.xml.SnapshotDef;

/**
 * The snapshots of one domain as a tree (by parent name) with its current snapshot. Pure: built
 * from the stored definitions, answers the questions list, delete and revert ask.
 * Siblings are ordered by creation time, then name, as libvirt lists them.
 */
public final class SnapshotTree {
    private final Map<String, SnapshotDef> byName = new LinkedHashMap<>();
    /** Children by parent name, in byName's order: built once, so no question scans all snapshots. */
    private final Map<String, List<SnapshotDef>> children = new HashMap<>();
    private final String current;

    public SnapshotTree(List<SnapshotDef> snapshots, String current) {
        List<SnapshotDef> sorted = new ArrayList<>(snapshots);
        sorted.sort(Comparator.comparingLong(SnapshotDef::creationTimeSec).thenComparing(SnapshotDef::name));
        for (SnapshotDef s : sorted) {
            byName.put(s.name(), s);
        }
        for (SnapshotDef s : byName.values()) {
            if (s.parent() != null) {
                children.computeIfAbsent(s.parent(), p -> new ArrayList<>()).add(s);
            }
        }
        this.current = current != null && byName.containsKey(current) ? current : null;
    }

    /** The current snapshot's name, or null. */
    public String current() {
        return current;
    }

    public boolean contains(String name) {
        return byName.containsKey(name);
    }

    public SnapshotDef get(String name) throws NotFoundException {
        SnapshotDef s = byName.get(name);
        if (s == null) {
            throw new NotFoundException("Domain snapshot not found: no domain snapshot with matching name '"
                    + name + "'");
        }
        return s;
    }

    /** All snapshots, oldest first. */
    public List<SnapshotDef> all() {
        return List.copyOf(byName.values());
    }

    /** Snapshots whose parent is missing or absent. */
    public List<SnapshotDef> roots() {
        return byName.values().stream().filter(s -> s.parent() == null || !byName.containsKey(s.parent())).toList();
    }

    public List<SnapshotDef> children(String name) {
        return List.copyOf(children.getOrDefault(name, List.of()));
    }

    /**
     * Descendants in depth-first pre-order (each parent before its children); an explicit stack,
     * so a chain of any length needs no deep call stack. A parent cycle is walked once.
     */
    public List<SnapshotDef> descendants(String name) {
        List<SnapshotDef> out = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        seen.add(name);
        Deque<SnapshotDef> stack = new ArrayDeque<>();
        pushChildren(stack, name);
        while (!stack.isEmpty()) {
            SnapshotDef s = stack.pop();
            if (seen.add(s.name())) {
                out.add(s);
                pushChildren(stack, s.name());
            }
        }
        return out;
    }

    /** The children of {@code name}, pushed so that the oldest is popped first. */
    private void pushChildren(Deque<SnapshotDef> stack, String name) {
        List<SnapshotDef> kids = children.getOrDefault(name, List.of());
        for (int i = kids.size() - 1; i >= 0; i--) {
            stack.push(kids.get(i));
        }
    }

    public boolean isLeaf(String name) {
        return children(name).isEmpty();
    }

    /** Every snapshot, each parent before its children (roots in creation order, depth first). */
    public List<SnapshotDef> topological() {
        List<SnapshotDef> out = new ArrayList<>();
        for (SnapshotDef r : roots()) {
            out.add(r);
            out.addAll(descendants(r.name()));
        }
        return out;
    }

    /** The chain from a snapshot up to its root: the snapshot first. */
    public List<SnapshotDef> ancestry(String name) throws NotFoundException {
        List<SnapshotDef> out = new ArrayList<>();
        SnapshotDef s = get(name);
        while (s != null && out.size() <= byName.size()) {
            out.add(s);
            s = s.parent() == null ? null : byName.get(s.parent());
        }
        return out;
    }
}
