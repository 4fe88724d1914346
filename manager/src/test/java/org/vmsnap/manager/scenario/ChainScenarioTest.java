package org.vmsnap.manager.scenario;

import static org.assertj.core.api.Assertions.assertThat;
import static org.vmsnap.manager.scenario.ScenarioFixture.DISK_ONLY;
import static org.vmsnap.manager.scenario.ScenarioFixture.E;
import static org.vmsnap.manager.scenario.ScenarioFixture.I;
import static org.vmsnap.manager.scenario.ScenarioFixture.N;
import static org.vmsnap.manager.scenario.ScenarioFixture.NONE;
import static org.vmsnap.manager.scenario.ScenarioFixture.NO_METADATA;

import java.io.IOException;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.manager.CreateFlags;
import org.vmsnap.manager.DeleteScope;
import org.vmsnap.manager.scenario.ScenarioFixture.DiskSpec;
import org.vmsnap.manager.xml.SnapshotMode;

/**
 * Linear chains and branches made by reverting, per mode (internal only, external only, mixed),
 * with every disk's and every snapshot's bytes verified after each revert and delete.
 */
class ChainScenarioTest {
    @TempDir
    Path tmp;

    /** fill, then the snapshot, then verify. */
    private static ScenarioFixture snap(ScenarioFixture f, String name, CreateFlags flags, SnapshotMode... modes)
            throws IOException {
        f.fill();
        f.create(name, flags, modes);
        f.verify();
        return f;
    }

    @Test
    void internalOnlyLinearChainAndBranches() throws IOException {
        ScenarioFixture f = ScenarioFixture.twoQcow2(tmp);
        snap(f, "s1", NONE);
        snap(f, "s2", NONE);
        snap(f, "s3", NONE);
        f.fill();
        f.verify();
        f.revert("s1"); // in place: the file holds all three and nothing depends on it
        f.verify();
        f.fill();
        f.create("b1", NONE);
        f.fill();
        f.verify();
        f.revert("s3");
        f.verify();
        f.revert("b1");
        f.verify();
        f.delete("s2", DeleteScope.SNAPSHOT); // non-leaf, one child, off the current branch
        f.verify();
        f.delete("s1", DeleteScope.SNAPSHOT); // root with two children, on the current branch
        f.verify();
        assertThat(f.presentFiles()).hasSize(2);
        f.verifyByReverting();
    }

    @Test
    void externalOnlyLinearChainAndBranches() throws IOException {
        ScenarioFixture f = ScenarioFixture.twoQcow2(tmp);
        snap(f, "e1", DISK_ONLY);
        snap(f, "e2", DISK_ONLY);
        snap(f, "e3", DISK_ONLY);
        f.fill();
        f.verify();
        f.revert("e1");
        f.verify();
        f.fill();
        f.create("b1", DISK_ONLY);
        f.fill();
        f.create("b2", DISK_ONLY);
        f.fill();
        f.verify();
        f.revert("e2"); // a third branch under e2's frozen images
        f.verify();
        f.fill();
        f.verify();
        f.delete("e3", DeleteScope.SNAPSHOT); // leaf off the current branch
        f.verify();
        f.delete("e1", DeleteScope.SNAPSHOT); // non-leaf with two children
        f.verify();
        f.delete("b1", DeleteScope.SNAPSHOT); // one child, off the current branch: merged
        f.verify();
        f.verifyByReverting();
        f.delete("e2", DeleteScope.SNAPSHOT); // the current snapshot
        f.verify();
        f.verifyByReverting();
    }

    @Test
    void externalOnRawAndQcow2Disks() throws IOException {
        ScenarioFixture f = ScenarioFixture.create(tmp, DiskSpec.raw(4), DiskSpec.qcow2(4));
        snap(f, "e1", DISK_ONLY);
        snap(f, "e2", DISK_ONLY);
        f.fill();
        f.verify();
        f.revert("e1");
        f.verify();
        f.fill();
        f.create("i1", NONE); // both tops are qcow2 overlays now: internal works for the raw disk too
        f.fill();
        f.verify();
        f.revert("e2");
        f.verify();
        f.revert("i1");
        f.verify();
        f.delete("e1", DeleteScope.SNAPSHOT);
        f.verify();
        f.verifyByReverting();
        f.delete("e2", DeleteScope.SNAPSHOT);
        f.delete("i1", DeleteScope.SNAPSHOT);
        f.verify();
    }

    @Test
    void internalAndExternalMixedInOneTree() throws IOException {
        ScenarioFixture f = ScenarioFixture.twoQcow2(tmp);
        snap(f, "i1", NONE);
        snap(f, "e1", DISK_ONLY);
        snap(f, "m1", NONE, I, E);
        snap(f, "i2", NONE);
        snap(f, "m2", NONE, E, N);
        f.fill();
        f.verify();
        f.revert("e1");
        f.verify();
        f.fill();
        f.create("i3", NONE);
        f.fill();
        f.revert("m1");
        f.verify();
        f.fill();
        f.create("m3", NONE, N, E);
        f.fill();
        f.verify();
        f.verifyByReverting();
        f.delete("m1", DeleteScope.SNAPSHOT);
        f.verify();
        f.delete("e1", DeleteScope.SNAPSHOT);
        f.verify();
        f.verifyByReverting();
    }

    /** The file holding internal snapshot s1 is frozen by e1 and backs e1's overlay: it must never change. */
    @Test
    void revertToAnInternalSnapshotWhoseFileBecameABackingFile() throws IOException {
        ScenarioFixture f = ScenarioFixture.twoQcow2(tmp);
        snap(f, "s1", NONE);
        snap(f, "e1", DISK_ONLY);
        f.fill();
        f.verify();
        Path base = f.userFiles.get("vda");
        String before = org.vmsnap.testkit.QemuImg.mapJson(base).toString();
        f.revert("s1");
        f.verify(); // e1's bytes are read from the base file: unchanged
        assertThat(f.domains.get(ScenarioFixture.DOMAIN).disk("vda").orElseThrow().source()).isNotEqualTo(base);
        assertThat(org.vmsnap.testkit.QemuImg.mapJson(base).toString()).as("map of %s", base).isEqualTo(before);
        f.fill();
        f.create("s2", NONE); // internal snapshot in the new image
        f.fill();
        f.revert("e1");
        f.verify();
        f.revert("s1"); // again: another copy, the first one still holds s2
        f.verify();
        f.revert("s2");
        f.verify();
        f.delete("s1", DeleteScope.SNAPSHOT);
        f.verify();
        f.verifyByReverting();
    }

    @Test
    void noMetadataSnapshotsComeBackWithRecover() throws IOException {
        ScenarioFixture f = ScenarioFixture.twoQcow2(tmp);
        snap(f, "s1", NONE);
        f.fill();
        f.verify();
        f.fill();
        f.create("h1", NO_METADATA);
        f.fill();
        f.verify();
        f.create("h2", new org.vmsnap.manager.CreateFlags(false, false, true, true, false));
        f.fill();
        f.verify();
        f.recover();
        assertThat(f.model.snaps).containsKeys("s1", "h1", "h2");
        f.verify();
        f.verifyByReverting();
    }

    @Test
    void metadataOnlyDeleteTouchesNoImage() throws IOException {
        ScenarioFixture f = ScenarioFixture.twoQcow2(tmp);
        snap(f, "s1", NONE);
        snap(f, "e1", DISK_ONLY);
        snap(f, "s2", NONE);
        f.fill();
        f.verify();
        ScenarioFixture.Footprint before = f.footprint();
        f.deleteMetadata("e1", DeleteScope.SNAPSHOT);
        f.verify();
        ScenarioFixture.Footprint after = f.footprint();
        assertThat(after.files()).isEqualTo(before.files());
        assertThat(after.internal()).isEqualTo(before.internal());
        f.deleteMetadata("s1", DeleteScope.CHILDREN);
        f.verify();
        assertThat(f.footprint().files()).isEqualTo(before.files());
        assertThat(f.footprint().internal()).isEqualTo(before.internal());
        assertThat(f.model.snaps).isEmpty();
    }
}
