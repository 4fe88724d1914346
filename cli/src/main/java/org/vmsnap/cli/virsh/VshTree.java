package org.vmsnap.cli.virsh;

import java.util.List;
import java.util.Objects;

/**
 * virsh's tree drawing (vshTreePrint) over a list of (name, parent) entries: every entry whose
 * parent is null starts a tree; children are drawn in list order under "|" guide lines, and
 * the last leaf of a branch is followed by a line holding only the guide indentation, exactly
 * as virsh prints it (trailing spaces included).
 */
final class VshTree {
    /** One node: its name and its parent's name (null for a tree's root). */
    record Node(String name, String parent) {
    }

    private final List<Node> nodes;
    private final StringBuilder out = new StringBuilder();

    private VshTree(List<Node> nodes) {
        this.nodes = nodes;
    }

    static String render(List<Node> nodes) {
        VshTree t = new VshTree(nodes);
        for (int i = 0; i < nodes.size(); i++) {
            if (nodes.get(i).parent() == null) {
                t.print(i, i, true, new StringBuilder());
            }
        }
        return t.out.toString();
    }

    private void print(int id, int lastSibling, boolean root, StringBuilder indent) {
        String name = nodes.get(id).name();
        out.append(indent).append(root ? "" : "+- ").append(name).append('\n');
        if (!root) {
            indent.append(id == lastSibling ? ' ' : '|').append(' ');
        }
        int lastChild = -1;
        for (int i = 0; i < nodes.size(); i++) {
            if (Objects.equals(nodes.get(i).parent(), name)) {
                lastChild = i;
            }
        }
        if (lastChild != -1) {
            out.append(indent).append("  |\n");
        }
        indent.append("  ");
        for (int i = 0; i < nodes.size(); i++) {
            if (Objects.equals(nodes.get(i).parent(), name)) {
                print(i, lastChild, false, indent);
            }
        }
        indent.setLength(indent.length() - 2);
        if (lastChild == -1 && id == lastSibling) {
            out.append(indent).append('\n');
        }
        if (!root) {
            indent.setLength(indent.length() - 2);
        }
    }
}
