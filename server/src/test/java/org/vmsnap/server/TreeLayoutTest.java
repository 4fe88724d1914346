package org.vmsnap.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.vmsnap.manager.xml.SnapshotDef;

/**
 * The page's tree layout: one row per snapshot in pre-order, parents above children, a linear run
 * in one column, and elbow edges that never pass over another snapshot, for 1000 snapshots in
 * chains, fans and seeded random trees.
 */
class TreeLayoutTest {

    static SnapshotDef snap(String name, String parent, long time) {
        return new SnapshotDef(name, null, "shutoff", time, parent, null, null, List.of(), null);
    }

    /** Checks what the drawing relies on and returns the placements by name. */
    static Map<String, TreeLayout.Placed> checked(List<SnapshotDef> all) {
        List<TreeLayout.Placed> out = TreeLayout.layout(all);
        assertThat(out).hasSize(all.size());
        Map<String, TreeLayout.Placed> by = new HashMap<>();
        Map<Integer, Map<Integer, String>> byColumn = new HashMap<>();
        for (int i = 0; i < out.size(); i++) {
            TreeLayout.Placed p = out.get(i);
            assertThat(p.row()).as("rows in order, one per snapshot").isEqualTo(i);
            by.put(p.snapshot().name(), p);
            byColumn.computeIfAbsent(p.column(), c -> new HashMap<>()).put(p.row(), p.snapshot().name());
        }
        Map<String, List<String>> kids = new HashMap<>();
        for (SnapshotDef s : all) {
            if (s.parent() != null) {
                kids.computeIfAbsent(s.parent(), k -> new ArrayList<>()).add(s.name());
            }
        }
        for (TreeLayout.Placed p : out) {
            String parent = p.snapshot().parent();
            if (parent == null) {
                continue;
            }
            TreeLayout.Placed up = by.get(parent);
            assertThat(up.row()).as("%s below its parent", p.snapshot().name()).isLessThan(p.row());
            if (kids.get(parent).getFirst().equals(p.snapshot().name())) {
                assertThat(p.column()).as("first child in the parent's column").isEqualTo(up.column());
                assertThat(p.row()).isEqualTo(up.row() + 1);
            } else {
                assertThat(p.column()).as("a later child to the right").isGreaterThan(up.column());
            }
            // The edge goes down the child's column from the parent's row: nothing else in between.
            for (Map.Entry<Integer, String> other : byColumn.get(p.column()).entrySet()) {
                assertThat(other.getKey() > up.row() && other.getKey() < p.row())
                        .as("%s sits on the edge %s -> %s", other.getValue(), parent, p.snapshot().name()).isFalse();
            }
        }
        return by;
    }

    @Test
    void aChainOf1000IsOneColumn() {
        List<SnapshotDef> all = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            all.add(snap("s" + i, i == 0 ? null : "s" + (i - 1), i));
        }
        Map<String, TreeLayout.Placed> by = checked(all);
        assertThat(by.values()).allMatch(p -> p.column() == 0);
        assertThat(by.get("s999").row()).isEqualTo(999);
    }

    @Test
    void aVeryLongChainNeedsNoDeepStack() {
        List<SnapshotDef> all = new ArrayList<>();
        for (int i = 0; i < 200_000; i++) {
            all.add(snap("s" + i, i == 0 ? null : "s" + (i - 1), i));
        }
        List<TreeLayout.Placed> out = TreeLayout.layout(all);
        assertThat(out.getLast().row()).isEqualTo(199_999);
        assertThat(out.getLast().snapshot().name()).isEqualTo("s199999");
    }

    @Test
    void aFanOf1000OpensAColumnPerLaterChild() {
        List<SnapshotDef> all = new ArrayList<>();
        all.add(snap("root", null, 0));
        for (int i = 1; i < 1000; i++) {
            all.add(snap("c" + i, "root", i));
        }
        Map<String, TreeLayout.Placed> by = checked(all);
        assertThat(by.get("c1").column()).isZero();
        assertThat(by.get("c999").column()).isEqualTo(998);
    }

    @Test
    void seededRandomTreesOf1000() {
        long seed = new Random().nextLong();
        System.out.println("TreeLayoutTest seed " + seed);
        Random random = new Random(seed);
        for (int round = 0; round < 20; round++) {
            List<SnapshotDef> all = new ArrayList<>();
            for (int i = 0; i < 1000; i++) {
                // Mostly extend a recent snapshot (long runs), sometimes branch from anywhere; a few roots.
                String parent = i == 0 || random.nextInt(100) == 0 ? null
                        : "s" + (random.nextInt(4) > 0 ? i - 1 : random.nextInt(i));
                all.add(snap("s" + i, parent, i));
            }
            checked(all);
        }
    }

    @Test
    void aParentCycleIsPlacedNotDroppedOrLooped() {
        List<SnapshotDef> all = List.of(snap("a", "b", 0), snap("b", "a", 1), snap("c", "gone", 2));
        List<TreeLayout.Placed> out = TreeLayout.layout(all);
        assertThat(out).extracting(p -> p.snapshot().name()).containsExactlyInAnyOrder("a", "b", "c");
        assertThat(out).extracting(TreeLayout.Placed::row).containsExactly(0, 1, 2);
    }
}
