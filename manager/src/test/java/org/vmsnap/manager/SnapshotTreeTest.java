package org.vmsnap.manager;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.vmsnap.manager.xml.SnapshotDef;

/**
 * The tree's questions: children in creation order, descendants and the whole tree in pre-order,
 * on a branched tree checked by hand, and on chains long enough that a recursive walk would run
 * out of stack (serve's page and API ask these of every snapshot).
 */
class SnapshotTreeTest {

    static SnapshotDef snap(String name, String parent, long time) {
        return new SnapshotDef(name, null, "shutoff", time, parent, null, null, List.of(), null);
    }

    static List<String> names(List<SnapshotDef> l) {
        return l.stream().map(SnapshotDef::name).toList();
    }

    @Test
    void aBranchedTreeInPreOrderWithSiblingsByCreationTime() {
        // a -> b -> d, a -> c (c older than b), e a second root; given in no particular order.
        SnapshotTree t = new SnapshotTree(List.of(snap("d", "b", 5), snap("b", "a", 3), snap("e", null, 4),
                snap("a", null, 1), snap("c", "a", 2)), "d");
        assertThat(names(t.roots())).containsExactly("a", "e");
        assertThat(names(t.children("a"))).containsExactly("c", "b");
        assertThat(names(t.children("d"))).isEmpty();
        assertThat(names(t.children("nosuch"))).isEmpty();
        assertThat(names(t.descendants("a"))).containsExactly("c", "b", "d");
        assertThat(names(t.topological())).containsExactly("a", "c", "b", "d", "e");
        assertThat(t.isLeaf("c")).isTrue();
        assertThat(t.isLeaf("b")).isFalse();
        assertThat(t.current()).isEqualTo("d");
    }

    @Test
    void aLongChainNeedsNoDeepStack() throws Exception {
        int n = 100_000;
        List<SnapshotDef> all = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            all.add(snap("s" + i, i == 0 ? null : "s" + (i - 1), i));
        }
        SnapshotTree t = new SnapshotTree(all, "s" + (n - 1));
        assertThat(t.descendants("s0")).hasSize(n - 1);
        assertThat(t.topological()).hasSize(n);
        assertThat(t.topological().getLast().name()).isEqualTo("s" + (n - 1));
        assertThat(t.ancestry("s" + (n - 1))).hasSize(n);
    }
}
