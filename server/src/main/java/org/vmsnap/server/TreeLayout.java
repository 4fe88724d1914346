package org.vmsnap.server;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.vmsnap.manager.xml.SnapshotDef;

/**
 * Where the page draws each snapshot: one row per snapshot in depth-first pre-order (so the list
 * reads like {@code snapshot-list --tree}), and a column per branch: a snapshot's first child
 * stays in its parent's column, so a linear run of snapshots is one straight line however long;
 * every later child opens a new column to the right of all columns used so far. Drawn as an
 * elbow (across on the parent's row, then down the child's column), no edge crosses a node:
 * a new column is empty above the child, and rows between a parent and its later child belong
 * to earlier siblings' subtrees, whose columns are all to the left.
 *
 * <p>O(n) time and memory, no recursion (a chain of any length lays out without a deep stack).
 * Presentation only: the parents come from the manager's tree as they are.
 */
final class TreeLayout {
    private TreeLayout() {
    }

    /** A snapshot's place: {@code row} from 0 at the top, {@code column} from 0 at the left. */
    record Placed(SnapshotDef snapshot, int row, int column) {
    }

    /**
     * Lays out {@code all} (oldest first: siblings keep that order). A snapshot whose parent is
     * absent is a root; snapshots caught in a parent cycle (corrupt metadata) are placed as roots
     * rather than dropped.
     */
    static List<Placed> layout(List<SnapshotDef> all) {
        Map<String, Integer> index = new HashMap<>(all.size() * 2);
        for (int i = 0; i < all.size(); i++) {
            index.putIfAbsent(all.get(i).name(), i);
        }
        List<List<Integer>> children = new ArrayList<>(all.size());
        for (int i = 0; i < all.size(); i++) {
            children.add(new ArrayList<>(1));
        }
        List<Integer> roots = new ArrayList<>();
        for (int i = 0; i < all.size(); i++) {
            Integer parent = all.get(i).parent() == null ? null : index.get(all.get(i).parent());
            if (parent == null || parent == i) {
                roots.add(i);
            } else {
                children.get(parent).add(i);
            }
        }
        List<Placed> out = new ArrayList<>(all.size());
        boolean[] placed = new boolean[all.size()];
        int[] column = new int[all.size()];
        int[] next = {0, 0}; // next row, next free column
        for (int r : roots) {
            place(r, children, column, placed, next, out, all);
        }
        for (int i = 0; i < all.size(); i++) {
            if (!placed[i]) {
                place(i, children, column, placed, next, out, all); // a cycle: cut it here
            }
        }
        return out;
    }

    /** Pre-order from {@code root} with an explicit stack; the root opens a new column. */
    private static void place(int root, List<List<Integer>> children, int[] column, boolean[] placed, int[] next,
            List<Placed> out, List<SnapshotDef> all) {
        // Stack entries: {node, the column it inherits, or -1 for a new one}.
        Deque<int[]> stack = new ArrayDeque<>();
        stack.push(new int[] {root, -1});
        while (!stack.isEmpty()) {
            int[] e = stack.pop();
            int node = e[0];
            if (placed[node]) {
                continue;
            }
            placed[node] = true;
            column[node] = e[1] >= 0 ? e[1] : next[1]++;
            out.add(new Placed(all.get(node), next[0]++, column[node]));
            List<Integer> kids = children.get(node);
            for (int k = kids.size() - 1; k >= 0; k--) {
                stack.push(new int[] {kids.get(k), k == 0 ? column[node] : -1});
            }
        }
    }
}
