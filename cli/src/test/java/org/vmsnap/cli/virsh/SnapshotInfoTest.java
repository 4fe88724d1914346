package org.vmsnap.cli.virsh;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.vmsnap.manager.SnapshotTree;

/** snapshot-info against virsh 9.0 on the fixture tree: every snapshot, and --current. */
class SnapshotInfoTest {

    static List<String> names() {
        return Arrays.stream(Fixtures.TREE_FILES).map(f -> f.substring(f.indexOf('-') + 1)).toList();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("names")
    void likeVirsh(String name) throws IOException {
        SnapshotTree tree = Fixtures.tree();
        assertThat(SnapshotInfoCommand.render(tree, Lookup.snapshot(tree, name, false), "test") + "\n")
                .isEqualTo(Fixtures.read("info/" + name + ".out"));
    }

    @Test
    void currentLikeVirsh() throws IOException {
        SnapshotTree tree = Fixtures.tree();
        assertThat(SnapshotInfoCommand.render(tree, Lookup.snapshot(tree, null, true), "test") + "\n")
                .isEqualTo(Fixtures.read("info/current.out"));
    }
}
