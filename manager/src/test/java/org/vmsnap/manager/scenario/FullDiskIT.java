package org.vmsnap.manager.scenario;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.manager.DeleteScope;
import org.vmsnap.testkit.QemuImg;
import org.vmsnap.testkit.SmallTmpfs;

/**
 * ENOSPC at every write of a snapshot operation: the state folder and the disks live on a
 * small tmpfs; a filler file leaves {@code free} bytes, swept from none up in pages until the
 * operation succeeds, so each of its writes (overlay creation, qcow2 metadata, journal,
 * metadata files, mirror) is in turn the one that finds the disk full. Each time: one error
 * line; every image passes {@code qemu-img check}; once space is back the next command leaves
 * exactly the state before or the state after, and nothing else in the folders.
 */
class FullDiskIT {
    /**
     * Free space grows by this much per try: two tmpfs pages (the unit in which space runs
     * out), so every metadata file and every cluster write still meets a full disk at least
     * once; {@code -Dvmsnap.fulldisk.step=4096} tries every page (a long run).
     */
    static final int PAGE = Integer.getInteger("vmsnap.fulldisk.step", 8192);
    /** The sweep gives up (and fails) past this much free space: an operation needs far less. */
    static final int MAX_FREE = 8 << 20;

    @TempDir
    static Path tmp;
    static SmallTmpfs disk;

    @BeforeAll
    static void mountTmpfs() throws Exception {
        disk = SmallTmpfs.mount(tmp.resolve("small"), "24m");
    }

    @AfterAll
    static void unmount() throws Exception {
        if (disk != null) {
            disk.close();
        }
    }

    interface Op {
        void run(ScenarioFixture f) throws IOException;
    }

    interface Expected {
        Model after(ScenarioFixture f);
    }

    record Case(String name, Op op, Expected after) {
    }

    @TestFactory
    Stream<DynamicTest> everyWriteOfEveryOperationMeetsAFullDisk() {
        List<Case> cases = List.of(
                new Case("internal snapshot-create", f -> f.create("n", ScenarioFixture.NONE),
                        f -> f.afterCreate("n", ScenarioFixture.NONE)),
                new Case("external snapshot-create --disk-only", f -> f.create("n", ScenarioFixture.DISK_ONLY),
                        f -> f.afterCreate("n", ScenarioFixture.DISK_ONLY)),
                new Case("revert to an internal snapshot below overlays", f -> f.revert("s1"),
                        f -> f.model.revert("s1")),
                new Case("revert to an external snapshot", f -> f.revert("e1"), f -> f.model.revert("e1")),
                new Case("delete of an external snapshot (merge)", f -> f.delete("e1", DeleteScope.SNAPSHOT),
                        f -> f.model.delete("e1", DeleteScope.SNAPSHOT)),
                new Case("delete of an internal snapshot", f -> f.delete("s1", DeleteScope.SNAPSHOT),
                        f -> f.model.delete("s1", DeleteScope.SNAPSHOT)));
        String only = System.getProperty("vmsnap.fulldisk.case", "");
        return cases.stream().filter(c -> c.name().contains(only))
                .map(c -> DynamicTest.dynamicTest(c.name(), () -> sweep(c)));
    }

    private static ScenarioFixture build(Path root) throws IOException {
        ScenarioFixture f = ScenarioFixture.twoQcow2(root);
        f.fill();
        f.create("s1", ScenarioFixture.NONE);
        f.fill();
        f.create("e1", ScenarioFixture.DISK_ONLY);
        f.fill();
        return f;
    }

    private void sweep(Case c) throws Exception {
        List<String> failures = new ArrayList<>();
        Path root = disk.root().resolve("run");
        ScenarioFixture[] f = new ScenarioFixture[1];
        Model[] before = new Model[1];
        Model[] after = new Model[1];
        SmallTmpfs.Outcome o = disk.sweep(c.name(), PAGE, MAX_FREE, () -> {
            SmallTmpfs.deleteTree(root);
            f[0] = build(root);
            before[0] = f[0].model;
            after[0] = c.after().after(f[0]);
        }, free -> {
            try {
                c.op().run(f[0]);
                disk.release();
                f[0].verify();
                return true;
            } catch (IOException e) {
                String msg = e.getMessage();
                failures.add(msg);
                assertThat(msg).as("%s with %d bytes free: one line", c.name(), free).doesNotContain("\n");
                checkImages(f[0], c.name() + " with " + free + " bytes free");
                disk.release();
                f[0].reopen();
                f[0].service().tree(); // the next command finishes or undoes it
                CrashRunner.settle(f[0], before[0], after[0], c.name() + " with " + free + " bytes free");
                f[0].verify();
                return false;
            }
        });
        System.out.printf("%s: %d full-disk points, succeeded with %d KiB free%n", c.name(), o.failures(),
                o.freeAtSuccess() / 1024);
    }

    /** Every qcow2 image in the disk folder is one QEMU's check finds clean. */
    private static void checkImages(ScenarioFixture f, String what) throws IOException {
        for (Path folder : f.folders) {
            try (Stream<Path> files = Files.list(folder)) {
                // hidden files are vmsnap's partial ones, not under a final name (the next command removes them)
                for (Path p : files.filter(Files::isRegularFile)
                        .filter(p -> !p.getFileName().toString().startsWith(".")).toList()) {
                    if (org.vmsnap.qcow2.Images.probeFormat(p).equals("qcow2")) {
                        QemuImg.CheckOutcome r = QemuImg.check(p);
                        assertThat(r.exitCode()).as("%s: qemu-img check %s: %s", what, p, r.json()).isZero();
                    }
                }
            }
        }
    }
}
