package org.vmsnap.cli.live;

import static org.assertj.core.api.Assertions.assertThat;
import static org.vmsnap.cli.live.LiveDomain.fails;
import static org.vmsnap.cli.live.LiveDomain.ok;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.testkit.QemuImg;
import org.vmsnap.testkit.TestGuest;

/**
 * External checkpoints ({@code --memspec file=F,snapshot=external}, with and without
 * {@code --live}) of the running test guest: the memory in a file of vmsnap's format, the disks'
 * overlays from the same paused moment. The oracles are those of {@link CheckpointIT}: after a
 * revert the guest's in-memory counter goes on from the checkpoint's value in the same boot, and
 * its records on both disks are contiguous after the final shutdown; QEMU's STOP/RESUME events
 * on a monitor of the test's own show the pauses.
 */
class ExternalCheckpointIT {
    @TempDir
    Path dir;

    @Test
    void externalCheckpointsAreTakenRevertedAndDeletedWithTheirMemoryFiles() throws Exception {
        Path monitor = dir.resolve("watch.sock");
        try (LiveDomain d = LiveDomain.define(dir, "x", 2, xml -> PauseWatch.withMonitor(xml, monitor))) {
            d.startAndAwaitReady();
            d.awaitSerial(0, TestGuest.SECOND_DISK_LINE);
            CheckpointIT.counted(d, 0, 3);
            String disksBefore = ok("domblklist", "x");

            // Bad input: one line each, nothing changes.
            Path taken = Files.writeString(dir.resolve("taken.mem"), "the user's file");
            assertThat(fails("snapshot-create-as", "x", "c0", "--memspec", taken + ",snapshot=external"))
                    .contains(taken.toString()).contains("file exists");
            assertThat(Files.readString(taken)).isEqualTo("the user's file");
            assertThat(fails("snapshot-create-as", "x", "c0", "--memspec", dir.resolve("no/such/dir.mem").toString()))
                    .contains("No such file or directory");
            assertThat(fails("snapshot-create-as", "x", "c0", "--memspec", dir.resolve("a.mem").toString(),
                    "--disk-only")).contains("--memspec and --disk-only are mutually exclusive");
            assertThat(fails("snapshot-create-as", "x", "c0", "--memspec", "snapshot=no", "--live"))
                    .contains("live snapshot creation is supported only for checkpoints");
            assertThat(fails("snapshot-create-as", "x", "c0", "--memspec", dir.resolve("a.mem") + ",snapshot=external",
                    "--diskspec", "vda,snapshot=internal")).contains("mixing internal and external");
            assertThat(ok("snapshot-list", "x", "--name")).isEqualTo("\n");
            assertThat(ok("domblklist", "x")).isEqualTo(disksBefore);
            assertThat(dir.resolve("a.mem")).doesNotExist();

            Path mem1 = dir.resolve("x c1.mem"); // a space in the name
            Path mem2 = dir.resolve("x-c2.mem");
            CheckpointIT.Moment m1;
            CheckpointIT.Moment m2;
            try (PauseWatch watch = PauseWatch.connect(monitor)) {
                m1 = CheckpointIT.checkpoint(d, "c1", "--memspec", mem1 + ",snapshot=external");
                List<Duration> pauses = watch.pauses();
                assertThat(pauses).as("one pause: the save and the disks' transaction").hasSize(1);
                System.out.println("ExternalCheckpointIT: external checkpoint paused the guest "
                        + pauses.getFirst().toMillis() + " ms");
                CheckpointIT.counted(d, m1.high(), 5);
                watch.reset();
                m2 = CheckpointIT.checkpoint(d, "c2", "--memspec", "file=" + mem2, "--live");
                pauses = watch.pauses();
                assertThat(pauses).as("one pause: the last pass and the transaction").hasSize(1);
                System.out.println("ExternalCheckpointIT: --live external checkpoint paused the guest "
                        + pauses.getFirst().toMillis() + " ms");
            }
            for (Path mem : List.of(mem1, mem2)) {
                assertThat(Files.getPosixFilePermissions(mem)).isEqualTo(PosixFilePermissions.fromString("rw-------"));
            }
            assertThat(ok("snapshot-dumpxml", "x", "c1")).contains("<state>running</state>")
                    .contains("<memory snapshot='external' file='" + mem1 + "'/>")
                    .contains("<disk name='vda' snapshot='external'");
            assertThat(ok("snapshot-list", "x", "--tree")).isEqualTo("c1\n  |\n  +- c2\n    \n\n");
            assertThat(ok("domblklist", "x")).isNotEqualTo(disksBefore);
            assertThat(ok("domstate", "x")).isEqualTo("running\n\n");

            // Back to c1 from the running guest: QEMU restarts from the memory file.
            CheckpointIT.counted(d, m2.high(), 5);
            long pid = d.pid();
            long at = d.logSize();
            ok("snapshot-revert", "x", "c1");
            CheckpointIT.continuesFrom(d, at, m1);
            assertThat(d.pid()).isNotEqualTo(pid);
            assertThat(ok("domstate", "x", "--reason").strip()).isEqualTo("running (from snapshot)");

            // To c2, paused; then resumed.
            CheckpointIT.counted(d, m1.high(), 5);
            ok("snapshot-revert", "x", "c2", "--paused");
            assertThat(ok("domstate", "x", "--reason").strip()).isEqualTo("paused (from snapshot)");
            // A checkpoint of the paused guest leaves QEMU's images inactive until resume: a disk
            // snapshot or a delete there is refused with one line (an internal snapshot's delete on
            // an inactive image aborts QEMU 7.2), and nothing changes.
            Path mem5 = dir.resolve("c5.mem");
            ok("snapshot-create-as", "x", "c5", "--memspec", mem5.toString());
            assertThat(CheckpointIT.qemuStatus(d)).isEqualTo("postmigrate");
            String tree = ok("snapshot-list", "x", "--tree");
            String blocks = ok("domblklist", "x");
            assertThat(fails("snapshot-create-as", "x", "d5", "--disk-only"))
                    .contains("resume it first ('vmsnap resume x')");
            assertThat(fails("snapshot-delete", "x", "c5")).contains("resume it first");
            assertThat(ok("snapshot-list", "x", "--tree")).isEqualTo(tree);
            assertThat(ok("domblklist", "x")).isEqualTo(blocks);
            assertThat(mem5).exists();
            assertThat(CheckpointIT.qemuStatus(d)).isEqualTo("postmigrate");
            at = d.logSize();
            ok("resume", "x");
            CheckpointIT.continuesFrom(d, at, m2);
            ok("snapshot-delete", "x", "c5");
            assertThat(mem5).doesNotExist();

            // From a shut-off domain.
            ok("destroy", "x");
            at = d.logSize();
            ok("snapshot-revert", "x", "c1", "--running");
            CheckpointIT.continuesFrom(d, at, m1);

            // --quiesce: the memory holds the guest frozen; back from it, vmsnap thaws it (running at
            // once, or when a guest reverted --paused is resumed), external and internal alike.
            assertThat(fails("snapshot-create-as", "x", "c3", "--memspec", dir.resolve("c3.mem").toString(),
                    "--live", "--quiesce")).contains("--quiesce and --live cannot be used together");
            assertThat(dir.resolve("c3.mem")).doesNotExist();
            CheckpointIT.Moment m3 = CheckpointIT.checkpoint(d, "c3", "--memspec", dir.resolve("c3.mem").toString(),
                    "--quiesce");
            CheckpointIT.Moment m4 = CheckpointIT.checkpoint(d, "c4", "--quiesce"); // internal
            CheckpointIT.counted(d, m4.high(), 5);
            at = d.logSize();
            ok("snapshot-revert", "x", "c3");
            CheckpointIT.continuesFrom(d, at, m3);
            CheckpointIT.counted(d, m3.high(), 5);
            ok("snapshot-revert", "x", "c4", "--paused");
            at = d.logSize();
            ok("resume", "x");
            CheckpointIT.continuesFrom(d, at, m4);
            // The store records whether each checkpoint was quiesced (a revert to one that was not
            // asks the guest's agent nothing); a quiesced one whose metadata lacks the record (an
            // older vmsnap's) is still asked and thawed when the guest runs again.
            Path c4 = d.home.resolve("x").resolve("snapshots").resolve("c4.xml");
            assertThat(Files.readString(d.home.resolve("x").resolve("snapshots").resolve("c1.xml")))
                    .contains("quiesced='no'");
            assertThat(Files.readString(c4)).contains("quiesced='yes'");
            Files.writeString(c4, Files.readString(c4).replaceFirst("(?s)  <cookie>.*</cookie>\n", ""));
            assertThat(Files.readString(c4)).doesNotContain("quiesced");
            CheckpointIT.counted(d, m4.high(), 5);
            at = d.logSize();
            org.vmsnap.cli.Cli.Run r = org.vmsnap.cli.Cli.run("snapshot-revert", "x", "c4", "--running");
            assertThat(r.exitCode()).as(r.err()).isZero();
            assertThat(r.err()).contains("thawed the guest's filesystems");
            CheckpointIT.continuesFrom(d, at, m4);
            ok("snapshot-delete", "x", "c4");
            ok("snapshot-delete", "x", "c3");
            assertThat(dir.resolve("c3.mem")).doesNotExist();

            // A checkpoint's memory file goes with it; the other stays.
            ok("snapshot-delete", "x", "c1");
            assertThat(mem1).doesNotExist();
            assertThat(mem2).exists();
            ok("snapshot-delete", "x", "c2");
            assertThat(mem2).doesNotExist();
            assertThat(Files.readString(taken)).isEqualTo("the user's file");

            long last = d.awaitCounters(d.logSize()).getLast().n();
            ok("shutdown", "x");
            d.awaitState("shut off (shutdown)", Duration.ofSeconds(60));
            List<Path> tops = List.of(LiveSnapshotIT.source("x", "vda"), LiveSnapshotIT.source("x", "vdb"));
            for (Path p : tops) {
                assertThat(QemuImg.check(p).exitCode()).as("qemu-img check %s", p).isZero();
            }
            TestGuest.DiskPair end = TestGuest.readDiskPair(tops.get(0), tops.get(1), "qcow2");
            assertThat(end.first().isContiguous()).as("vda: records 1..n").isTrue();
            assertThat(end.second().isContiguous()).as("vdb: records 1..n").isTrue();
            assertThat(last).isPositive();
        }
    }

    /** Files in the test folder whose names say a plan made them and did not finish (partial links). */
    private List<String> partials() throws Exception {
        try (var files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".vmsnap-partial")).toList();
        }
    }

    @Test
    void vmsnapKilledBeforeEveryStepOfAnExternalCheckpointAndOfItsRevertLeavesNoPausedGuestAndLosesNothing()
            throws Exception {
        try (LiveDomain d = LiveDomain.define(dir, "f", 2)) {
            d.startAndAwaitReady();
            d.awaitSerial(0, TestGuest.SECOND_DISK_LINE);
            Path mem = dir.resolve("f.x.mem");
            List<String> creates = new java.util.ArrayList<>();
            for (int step = 1; step < 40; step++) {
                String disks = ok("domblklist", "f");
                if (!LiveDomain.crashedAt(step, "snapshot-create-as", "f", "x", "--memspec", mem.toString(), "--live")) {
                    creates.add("done");
                    break;
                }
                ok("snapshot-list", "f"); // the next command settles it
                assertThat(d.home.resolve("f").resolve("journal")).doesNotExist();
                assertThat(CheckpointIT.qemuStatus(d)).as("create killed before step %d", step).isEqualTo("running");
                boolean made = ok("snapshot-list", "f", "--name").contains("x");
                creates.add(made ? "new" : "old");
                assertThat(Files.exists(mem)).as("the memory file after a kill at step %d", step).isEqualTo(made);
                assertThat(partials()).as("after a kill at step %d", step).isEmpty();
                if (made) {
                    assertThat(ok("domblklist", "f")).isNotEqualTo(disks);
                    ok("snapshot-delete", "f", "x");
                    assertThat(mem).doesNotExist();
                } else {
                    assertThat(ok("domblklist", "f")).isEqualTo(disks);
                }
                d.awaitSerial(d.logSize(), "COUNTER");
            }
            assertThat(creates).contains("old", "new").endsWith("done");
            System.out.println("ExternalCheckpointIT: create outcomes by step " + creates);

            CheckpointIT.Moment m = CheckpointIT.checkpoint(d, "c", "--memspec", dir.resolve("f.c.mem").toString());
            List<String> reverts = CheckpointIT.revertKilledAtEveryStep(d, "c", m,
                    step -> assertThat(partials()).as("after a kill at step %d", step).isEmpty());
            assertThat(reverts).endsWith("done");
            System.out.println("ExternalCheckpointIT: revert outcomes by step " + reverts);
            ok("shutdown", "f");
            d.awaitState("shut off (shutdown)", Duration.ofSeconds(60));
            List<Path> tops = List.of(LiveSnapshotIT.source("f", "vda"), LiveSnapshotIT.source("f", "vdb"));
            for (Path p : tops) {
                assertThat(QemuImg.check(p).exitCode()).as("qemu-img check %s", p).isZero();
            }
            TestGuest.DiskPair end = TestGuest.readDiskPair(tops.get(0), tops.get(1), "qcow2");
            assertThat(end.first().isContiguous()).as("vda: records 1..n").isTrue();
            assertThat(end.second().isContiguous()).as("vdb: records 1..n").isTrue();
        }
    }
}
