package org.vmsnap.manager.scenario;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.vmsnap.manager.DeleteScope;
import org.vmsnap.manager.scenario.ShapeTree.Kind;

/**
 * snapshot-delete of one snapshot on every tree shape (leaf, one child, several children, root,
 * on and off the current branch, the current snapshot),
 * for a {@link ShapeTree} of internal, external and mixed snapshots. After the delete everything is
 * verified, then every remaining snapshot is reverted to and verified.
 */
class DeleteShapesTest {
    @TempDir
    Path tmp;

    private ScenarioFixture tree(Kind kind) throws IOException {
        return ShapeTree.build(tmp, kind);
    }

    private static void deleteAndVerify(ScenarioFixture f, String name, DeleteScope scope) throws IOException {
        f.delete(name, scope);
        f.verify();
        f.verifyByReverting();
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void leafOffTheCurrentBranch(Kind kind) throws IOException {
        deleteAndVerify(tree(kind), "s4", DeleteScope.SNAPSHOT);
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void currentLeafMakesItsParentCurrent(Kind kind) throws IOException {
        ScenarioFixture f = tree(kind);
        f.delete("c1", DeleteScope.SNAPSHOT);
        assertThat(f.model.current).isEqualTo("s2");
        f.verify();
        f.verifyByReverting();
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void oneChildOffTheCurrentBranch(Kind kind) throws IOException {
        deleteAndVerify(tree(kind), "s3", DeleteScope.SNAPSHOT);
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void rootWithOneChildOnTheCurrentBranch(Kind kind) throws IOException {
        deleteAndVerify(tree(kind), "s1", DeleteScope.SNAPSHOT);
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void severalChildrenOnTheCurrentBranch(Kind kind) throws IOException {
        deleteAndVerify(tree(kind), "s2", DeleteScope.SNAPSHOT);
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void currentSnapshotWithOneChild(Kind kind) throws IOException {
        ScenarioFixture f = tree(kind);
        f.revert("b1");
        f.fill();
        deleteAndVerify(f, "b1", DeleteScope.SNAPSHOT);
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void currentSnapshotWithSeveralChildren(Kind kind) throws IOException {
        ScenarioFixture f = tree(kind);
        f.revert("s2");
        deleteAndVerify(f, "s2", DeleteScope.SNAPSHOT);
    }
}
