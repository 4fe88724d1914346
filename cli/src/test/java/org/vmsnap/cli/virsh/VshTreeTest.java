package org.vmsnap.cli.virsh;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

import org.junit.jupiter.api.Test;

/** The tree drawing on shapes the fixture tree lacks; expected texts were printed by virsh 9.0. */
class VshTreeTest {

    private static VshTree.Node n(String name, String parent) {
        return new VshTree.Node(name, parent);
    }

    @Test
    void lonelyRootIsFollowedByAnEmptyLine() {
        // virsh -c test:///default 'destroy test; snapshot-create-as test s1; snapshot-list test --tree'
        assertThat(VshTree.render(List.of(n("s1", null)))).isEqualTo("s1\n\n");
    }

    @Test
    void chainAndBranches() {
        // s1 <- s2 ; s1 <- s3 <- {s4, s5} (virsh: snapshot-revert between creations)
        String expected = "s1\n  |\n  +- s2\n  +- s3\n      |\n      +- s4\n      +- s5\n        \n";
        assertThat(VshTree.render(List.of(n("s1", null), n("s2", "s1"), n("s3", "s1"), n("s4", "s3"),
                n("s5", "s3")))).isEqualTo(expected);
    }

    @Test
    void emptyListPrintsNothing() {
        assertThat(VshTree.render(List.of())).isEmpty();
    }

    @Test
    void tableWidthsCountCharactersNotBytes() {
        String t = new VshTable("Name", "State").row("é", "x").render();
        assertThat(t).isEqualTo(" Name   State\n---------------\n é      x\n");
    }
}
