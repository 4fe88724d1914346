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
 * snapshot-delete --children, --children-only and --metadata,
 * for a {@link ShapeTree} of internal, external and mixed snapshots. After the delete everything is
 * verified, then every remaining snapshot is reverted to and verified.
 */
class DeleteScopesTest {
    @TempDir
    Path tmp;

    private ScenarioFixture tree(Kind kind) throws IOException {
        return ShapeTree.build(tmp, kind);
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void childrenWithTheCurrentSnapshotAmongThem(Kind kind) throws IOException {
        ScenarioFixture f = tree(kind);
        f.delete("s2", DeleteScope.CHILDREN);
        assertThat(f.model.current).isEqualTo("s1");
        f.verify();
        f.verifyByReverting();
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void childrenOnlyWithTheCurrentSnapshotAmongThem(Kind kind) throws IOException {
        ScenarioFixture f = tree(kind);
        f.delete("s2", DeleteScope.CHILDREN_ONLY);
        assertThat(f.model.current).isEqualTo("s2");
        f.verify();
        f.verifyByReverting();
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void childrenOffTheCurrentBranchThenEverything(Kind kind) throws IOException {
        ScenarioFixture f = tree(kind);
        f.delete("s3", DeleteScope.CHILDREN);
        f.verify();
        f.delete("b1", DeleteScope.CHILDREN_ONLY);
        f.verify();
        f.delete("s1", DeleteScope.CHILDREN);
        assertThat(f.model.snaps).isEmpty();
        f.verify();
        assertThat(f.presentFiles()).as("images left when no snapshot is left").hasSizeLessThanOrEqualTo(4);
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void metadataOnlyOfANonLeaf(Kind kind) throws IOException {
        ScenarioFixture f = tree(kind);
        ScenarioFixture.Footprint before = f.footprint();
        f.deleteMetadata("s2", DeleteScope.SNAPSHOT);
        f.verify();
        assertThat(f.footprint().files()).isEqualTo(before.files());
        assertThat(f.footprint().internal()).isEqualTo(before.internal());
        f.verifyByReverting();
    }
}
