package org.vmsnap.manager.scenario;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.vmsnap.manager.scenario.ScenarioFixture.DISK_ONLY;
import static org.vmsnap.manager.scenario.ScenarioFixture.I;
import static org.vmsnap.manager.scenario.ScenarioFixture.NONE;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.manager.DeleteScope;
import org.vmsnap.manager.DomainService;
import org.vmsnap.manager.ManagerException;
import org.vmsnap.manager.plan.CrashPoint;
import org.vmsnap.testkit.QemuIoHolder;

/**
 * The rule every removal in the manager follows: a file is removed only if this plan made it
 * (proved by its partial link, even by the next process after a crash), or it is an image vmsnap
 * made that nothing needs and no process holds (QEMU's write lock taken first; a file another
 * process holds is kept, still owned, and removed by a later command once it is free). Real
 * qemu-io processes are the other process.
 */
class RemovalRuleTest {
    @TempDir
    Path tmp;

    private static Path current(ScenarioFixture f, String target) throws IOException {
        return f.domains.get(ScenarioFixture.DOMAIN).disk(target).orElseThrow().source();
    }

    private static List<String> owned(ScenarioFixture f) throws IOException {
        Path owned = f.home.resolve(ScenarioFixture.DOMAIN).resolve("owned");
        return Files.exists(owned) ? Files.readAllLines(owned) : List.of();
    }

    @Test
    void revertRefusesToDiscardACurrentImageAnotherProcessHolds() throws Exception {
        ScenarioFixture f = ScenarioFixture.twoQcow2(tmp);
        f.fill();
        f.create("s", DISK_ONLY);
        f.fill();
        Path top = current(f, "vda");
        ScenarioFixture.Footprint before = f.footprint();
        try (QemuIoHolder holder = new QemuIoHolder(top, "qcow2")) {
            assertThatThrownBy(() -> f.revert("s")).isInstanceOf(ManagerException.class)
                    .hasMessageContaining("disk vda: " + top + " is in use by another process")
                    .hasMessageContaining("nothing was changed");
            assertThat(f.footprint()).isEqualTo(before);
            assertThat(top).exists();
        }
        f.verify();
        f.revert("s");
        assertThat(top).as("discarded once free").doesNotExist();
        f.verify();
    }

    @Test
    void anUnneededImageAnotherProcessHoldsIsKeptAndRemovedLater() throws Exception {
        ScenarioFixture f = ScenarioFixture.twoQcow2(tmp);
        f.fill();
        f.create("e1", DISK_ONLY);
        f.fill();
        f.create("e2", DISK_ONLY); // e2's frozen images are e1's overlays
        f.fill();
        f.revert("e1"); // a new branch; e1's overlays stay as e2's frozen images
        f.fill();
        Path frozenByE2 = f.service().tree().get("e2").domain().disk("vda").orElseThrow().source();
        assertThat(owned(f)).contains(frozenByE2.toString());
        List<String> warnings = new ArrayList<>();
        f.domains = new DomainService(f.home, warnings::add);
        try (QemuIoHolder reader = new QemuIoHolder(frozenByE2, "qcow2", true)) {
            f.delete("e2", DeleteScope.SNAPSHOT); // nothing needs e2's frozen images any more
            assertThat(frozenByE2).as("held by qemu-io: kept").exists();
            assertThat(warnings).anySatisfy(w -> assertThat(w).startsWith("kept " + frozenByE2 + ": ")
                    .contains("removes it once nothing holds it"));
            assertThat(owned(f)).as("still vmsnap's, to be removed later").contains(frozenByE2.toString());
            f.allowedUnreferenced.add(frozenByE2);
            f.verify();
        }
        f.fill();
        f.create("later", NONE, I, I);
        assertThat(frozenByE2).as("removed by the next command once free").doesNotExist();
        assertThat(owned(f)).doesNotContain(frozenByE2.toString());
        f.allowedUnreferenced.remove(frozenByE2);
        f.verify();
    }

    @Test
    void anUndoAfterACrashNeverRemovesAFileThatAppearedUnderTheOverlaysName() throws Exception {
        ScenarioFixture f = ScenarioFixture.twoQcow2(tmp);
        f.fill();
        Path planned = tmp.resolve("disks").resolve("disk0.x");
        CrashPoint.arm(1); // dies before the first overlay is made
        try {
            assertThatThrownBy(() -> f.service().create(ScenarioFixture.request("x", f.targets), DISK_ONLY))
                    .isInstanceOf(CrashPoint.SimulatedCrash.class);
        } finally {
            CrashPoint.arm(0);
        }
        Files.writeString(planned, "someone else's file\n");
        f.reopen();
        f.service().tree(); // the next command undoes the interrupted create
        assertThat(planned).as("not the plan's file: kept").hasContent("someone else's file\n");
        f.allowedUnreferenced.add(planned);
        f.verify();
        try (var files = Files.list(planned.getParent())) {
            assertThat(files.map(p -> p.getFileName().toString())).noneMatch(n -> n.startsWith(".vmsnap-partial-"));
        }
    }

    @Test
    void anUndoAfterACrashRemovesTheOverlayItsPlanMade() throws Exception {
        ScenarioFixture f = ScenarioFixture.twoQcow2(tmp);
        f.fill();
        CrashPoint.arm(3); // both overlays made, the metadata not yet written
        try {
            assertThatThrownBy(() -> f.service().create(ScenarioFixture.request("x", f.targets), DISK_ONLY))
                    .isInstanceOf(CrashPoint.SimulatedCrash.class);
        } finally {
            CrashPoint.arm(0);
        }
        assertThat(tmp.resolve("disks").resolve("disk0.x")).exists();
        f.reopen();
        f.service().tree();
        assertThat(tmp.resolve("disks").resolve("disk0.x")).doesNotExist();
        assertThat(tmp.resolve("disks").resolve("disk1.x")).doesNotExist();
        f.verify();
    }

    @Test
    void aPlanThatCannotBeUndoneNowStillLetsTheDomainBeShown() throws Exception {
        ScenarioFixture f = ScenarioFixture.twoQcow2(tmp);
        f.fill();
        Path vda = current(f, "vda");
        CrashPoint.arm(2); // the internal snapshot of vda is made, vdb's not yet
        try {
            assertThatThrownBy(() -> f.service().create(ScenarioFixture.request("x", f.targets, I, I), NONE))
                    .isInstanceOf(CrashPoint.SimulatedCrash.class);
        } finally {
            CrashPoint.arm(0);
        }
        List<String> warnings = new ArrayList<>();
        f.domains = new DomainService(f.home, warnings::add);
        try (QemuIoHolder holder = new QemuIoHolder(vda, "qcow2")) {
            // Undoing needs vda, which qemu-io holds: a listing still works and says why it is partial.
            assertThat(f.service().tree().all()).isEmpty();
            assertThat(f.service().domain().name()).isEqualTo(ScenarioFixture.DOMAIN);
            assertThat(warnings).anySatisfy(w -> assertThat(w).contains("undoing the interrupted snapshot-create")
                    .contains("what is shown is the state stored before it"));
            // A change does not go on over a pending plan.
            assertThatThrownBy(() -> f.service().create(ScenarioFixture.request("y", f.targets, I, I), NONE))
                    .isInstanceOf(IOException.class).hasMessageContaining("undoing the interrupted snapshot-create");
        }
        warnings.clear();
        f.service().tree();
        assertThat(warnings).containsExactly("undid the interrupted snapshot-create of domain vm");
        f.verify();
        f.create("y", NONE, I, I);
        f.verify();
    }
}
