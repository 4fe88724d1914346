package org.vmsnap.cli.virsh;

import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

import org.vmsnap.cli.CliException;
import org.vmsnap.manager.NotFoundException;
import org.vmsnap.manager.SnapshotTree;
import org.vmsnap.manager.xml.SnapshotDef;

/**
 * snapshot-list without I/O: libvirt's selection (roots, from/children/descendants, leaves,
 * state and location filters, metadata) and order (by name ignoring case, or topological), then
 * virsh's table, name list or tree.
 */
final class SnapshotListing {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss Z", Locale.ROOT);

    /** The snapshot-list flags, named as virsh names them. */
    record Options(boolean parent, boolean roots, boolean leaves, boolean noLeaves, boolean metadata,
            boolean noMetadata, boolean inactive, boolean active, boolean diskOnly, boolean internal,
            boolean external, boolean tree, String from, boolean current, boolean descendants, boolean name,
            boolean topological) {

        /** virsh's option checks, in virsh's order, before the domain is looked up. */
        void validate() {
            exclusive("tree", tree, "name", name);
            exclusive("parent", parent, "roots", roots);
            exclusive("parent", parent, "tree", tree);
            exclusive("roots", roots, "tree", tree);
            exclusive("roots", roots, "from", from != null);
            exclusive("roots", roots, "current", current);
            if (tree) {
                filterWithTree("leaves", leaves);
                filterWithTree("no-leaves", noLeaves);
                filterWithTree("inactive", inactive);
                filterWithTree("active", active);
                filterWithTree("disk-only", diskOnly);
                filterWithTree("internal", internal);
                filterWithTree("external", external);
            }
            if (descendants && from == null && !current) {
                throw new CliException("--descendants requires either --from or --current");
            }
            if (from != null && current) {
                throw new CliException("--from and --current are mutually exclusive");
            }
        }

        private static void exclusive(String a, boolean hasA, String b, boolean hasB) {
            if (hasA && hasB) {
                throw new CliException("Options --" + a + " and --" + b + " are mutually exclusive");
            }
        }

        private static void filterWithTree(String option, boolean set) {
            if (set) {
                throw new CliException("--" + option + " and --tree are mutually exclusive");
            }
        }
    }

    private SnapshotListing() {
    }

    /** What virsh prints for snapshot-list (without the newline virsh adds after every command). */
    static String render(SnapshotTree tree, Options o, ZoneId zone) throws NotFoundException {
        o.validate();
        SnapshotDef start = null;
        if (o.from() != null) {
            start = tree.get(o.from());
        } else if (o.current()) {
            start = Lookup.current(tree);
        }
        List<SnapshotDef> selected = select(tree, o, start);
        if (o.tree()) {
            List<VshTree.Node> nodes = new ArrayList<>();
            for (SnapshotDef s : selected) {
                nodes.add(new VshTree.Node(s.name(), s.parent()));
            }
            if (start != null) {
                // --from with --tree: the start is listed too, as the only root.
                nodes.add(new VshTree.Node(start.name(), null));
            }
            if (!o.topological()) {
                nodes.sort(Comparator.comparing(VshTree.Node::name, String.CASE_INSENSITIVE_ORDER));
            }
            return VshTree.render(nodes);
        }
        if (!o.topological()) {
            selected.sort(Comparator.comparing(SnapshotDef::name, String.CASE_INSENSITIVE_ORDER));
        }
        if (o.name()) {
            StringBuilder b = new StringBuilder();
            selected.forEach(s -> b.append(s.name()).append('\n'));
            return b.toString();
        }
        VshTable table = o.parent() ? new VshTable("Name", "Creation Time", "State", "Parent")
                : new VshTable("Name", "Creation Time", "State");
        for (SnapshotDef s : selected) {
            String time = TIME.format(Instant.ofEpochSecond(s.creationTimeSec()).atZone(zone));
            String state = s.state() == null ? "" : s.state();
            if (o.parent()) {
                table.row(s.name(), time, state, s.parent() == null ? "" : s.parent());
            } else {
                table.row(s.name(), time, state);
            }
        }
        return table.render();
    }

    /**
     * The snapshots libvirt returns, in its topological order: the children of a snapshot (or of
     * the invisible root) newest first, each followed by its own descendants.
     */
    static List<SnapshotDef> select(SnapshotTree tree, Options o, SnapshotDef start) {
        List<SnapshotDef> candidates = new ArrayList<>();
        if (start != null) {
            if (o.descendants()) {
                walk(tree, children(tree, start.name()), candidates);
            } else {
                candidates.addAll(children(tree, start.name()));
            }
        } else if (o.roots()) {
            candidates.addAll(roots(tree));
        } else {
            walk(tree, roots(tree), candidates);
        }
        // Every snapshot vmsnap lists has metadata: --no-metadata alone selects none.
        if (o.noMetadata() && !o.metadata()) {
            return new ArrayList<>();
        }
        List<SnapshotDef> out = new ArrayList<>();
        for (SnapshotDef s : candidates) {
            boolean leaf = tree.isLeaf(s.name());
            if (o.leaves() && !leaf || o.noLeaves() && leaf) {
                continue;
            }
            if (matchesState(s, o) && matchesLocation(s, o)) {
                out.add(s);
            }
        }
        return out;
    }

    /** --inactive (shutoff), --disk-only (disk-snapshot), --active (any other state); none given: all. */
    private static boolean matchesState(SnapshotDef s, Options o) {
        if (!o.inactive() && !o.diskOnly() && !o.active()) {
            return true;
        }
        String state = s.state();
        if ("shutoff".equals(state)) {
            return o.inactive();
        }
        if ("disk-snapshot".equals(state)) {
            return o.diskOnly();
        }
        return o.active();
    }

    /** --internal / --external: external when the memory or any disk is external; neither or both: all. */
    private static boolean matchesLocation(SnapshotDef s, Options o) {
        if (o.internal() == o.external()) {
            return true;
        }
        return isExternal(s) ? o.external() : o.internal();
    }

    static boolean isExternal(SnapshotDef s) {
        return "external".equals(s.location());
    }

    private static void walk(SnapshotTree tree, List<SnapshotDef> level, List<SnapshotDef> out) {
        for (SnapshotDef s : level) {
            out.add(s);
            walk(tree, children(tree, s.name()), out);
        }
    }

    /** libvirt keeps children newest first (each new child is put at the head of its parent's list). */
    static List<SnapshotDef> children(SnapshotTree tree, String name) {
        return tree.children(name).reversed();
    }

    static List<SnapshotDef> roots(SnapshotTree tree) {
        return tree.roots().reversed();
    }
}
