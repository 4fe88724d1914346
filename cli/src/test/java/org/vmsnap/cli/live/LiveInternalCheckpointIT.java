package org.vmsnap.cli.live;

import static org.assertj.core.api.Assertions.assertThat;
import static org.vmsnap.cli.live.LiveDomain.fails;
import static org.vmsnap.cli.live.LiveDomain.ok;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.cli.Cli;
import org.vmsnap.manager.plan.CrashPoint;
import org.vmsnap.qmp.QmpClient;
import org.vmsnap.testkit.QemuImg;
import org.vmsnap.testkit.TestGuest;

/**
 * Internal checkpoints with {@code --live} of the running test guest: the disks' internal
 * snapshots taken while QEMU holds the memory save at its last pass, the memory in a vmsnap
 * memory file beside the first disk. Oracles as in {@link CheckpointIT}: after a revert the
 * guest's in-memory counter goes on from the checkpoint's value in the same boot, its records on
 * both disks are contiguous after the final shutdown; STOP/RESUME events on a monitor of the
 * test's own show the pauses. One boot for all cases.
 */
class LiveInternalCheckpointIT {
    @TempDir
    Path dir;

    private static final Pattern MEMORY = Pattern.compile("<memory snapshot='external' file='([^']+)'/>");

    private static Path memoryFile(String domain, String snapshot) {
        Matcher m = MEMORY.matcher(ok("snapshot-dumpxml", domain, snapshot));
        assertThat(m.find()).as("the memory file in the snapshot XML").isTrue();
        return Path.of(m.group(1));
    }

    /** Files in the disks' folder whose names say a plan made them and did not finish (partial links). */
    private List<String> partials() throws Exception {
        try (var files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".vmsnap-partial")).toList();
        }
    }

    private List<String> memFiles() throws Exception {
        try (var files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".mem")).toList();
        }
    }

    @Test
    void liveInternalCheckpointsPauseTheGuestBrieflyRevertToTheirMomentAndSurviveAKillAtEveryStep()
            throws Exception {
        Path monitor = dir.resolve("watch.sock");
        try (LiveDomain d = LiveDomain.define(dir, "li", 2, xml -> PauseWatch.withMonitor(xml, monitor))) {
            d.startAndAwaitReady();
            d.awaitSerial(0, TestGuest.SECOND_DISK_LINE);
            CheckpointIT.counted(d, 0, 3);

            // Bad input: one line, nothing changes.
            assertThat(fails("snapshot-create-as", "li", "q", "--live", "--quiesce"))
                    .contains("--quiesce and --live cannot be used together");
            assertThat(fails("snapshot-create-as", "li", "q", "--live", "--disk-only"))
                    .contains("live snapshot creation is supported only for checkpoints");
            assertThat(fails("snapshot-create-as", "li", "q", "--live", "--diskspec", "vdb,snapshot=external"))
                    .contains("mixing internal and external");
            assertThat(ok("snapshot-list", "li", "--name")).isEqualTo("\n");
            assertThat(memFiles()).isEmpty();

            CheckpointIT.Moment m1;
            CheckpointIT.Moment m2;
            try (PauseWatch watch = PauseWatch.connect(monitor)) {
                // The disks' transaction fails (a snapshot of that name appears in vdb's image while
                // QEMU holds the save): the save is cancelled, the guest runs, no file is left.
                String vdbNode = nodeOf(watch.qmp(), 1);
                CrashPoint.armAction(2, () -> {
                    try {
                        watch.qmp().execute("blockdev-snapshot-internal-sync", QmpClient.arguments()
                                .put("device", vdbNode).put("name", "t"), Duration.ofSeconds(30));
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                });
                try {
                    assertThat(fails("snapshot-create-as", "li", "t", "--live")).contains("QEMU refused the disks'"
                            + " snapshots").contains("nothing was changed");
                } finally {
                    CrashPoint.armAction(0, null);
                }
                assertThat(CheckpointIT.qemuStatus(d)).isEqualTo("running");
                assertThat(memFiles()).isEmpty();
                assertThat(partials()).isEmpty();
                assertThat(CheckpointIT.qemuSnapshots(d.disks.get(0))).doesNotContainKey("t");
                watch.qmp().execute("blockdev-snapshot-delete-internal-sync", QmpClient.arguments()
                        .put("device", vdbNode).put("name", "t"), Duration.ofSeconds(30));
                assertThat(watch.pauses()).as("the failed attempt paused and resumed the guest once").hasSize(1);
                String again = ok("snapshot-list", "li", "--name");
                assertThat(again).isEqualTo("\n");
                d.awaitSerial(d.logSize(), "COUNTER");

                // Killed before every step of the create: the next command undoes or finishes it,
                // the guest runs, and a memory file exists exactly when the checkpoint does.
                List<String> creates = new ArrayList<>();
                for (int step = 1; step < 40; step++) {
                    if (!LiveDomain.crashedAt(step, "snapshot-create-as", "li", "x", "--live")) {
                        creates.add("done");
                        break;
                    }
                    ok("snapshot-list", "li"); // the next command settles it
                    assertThat(d.home.resolve("li").resolve("journal")).doesNotExist();
                    assertThat(CheckpointIT.qemuStatus(d)).as("create killed before step %d", step)
                            .isEqualTo("running");
                    boolean made = ok("snapshot-list", "li", "--name").contains("x");
                    creates.add(made ? "new" : "old");
                    assertThat(memFiles()).as("memory files after a kill at step %d", step).hasSize(made ? 1 : 0);
                    assertThat(partials()).as("after a kill at step %d", step).isEmpty();
                    for (Path disk : d.disks) {
                        assertThat(CheckpointIT.qemuSnapshots(disk).containsKey("x"))
                                .as("%s holds x after a kill at step %d", disk, step).isEqualTo(made);
                    }
                    if (made) {
                        ok("snapshot-delete", "li", "x");
                        assertThat(memFiles()).isEmpty();
                    }
                    d.awaitSerial(d.logSize(), "COUNTER");
                }
                assertThat(creates).contains("old", "new").endsWith("done");
                System.out.println("LiveInternalCheckpointIT: create outcomes by step " + creates);
                ok("snapshot-delete", "li", "x");

                // Two checkpoints while the guest counts; each pauses it once, briefly.
                watch.reset();
                m1 = CheckpointIT.checkpoint(d, "c1", "--live");
                List<Duration> pauses = watch.pauses();
                assertThat(pauses).as("one pause: the last pass and the disks' snapshots").hasSize(1);
                System.out.println("LiveInternalCheckpointIT: --live internal checkpoint paused the guest "
                        + pauses.getFirst().toMillis() + " ms");
                CheckpointIT.counted(d, m1.high(), 5);
                watch.reset();
                m2 = CheckpointIT.checkpoint(d, "c2", "--live");
                assertThat(watch.pauses()).hasSize(1);
                System.out.println("LiveInternalCheckpointIT: second one paused the guest "
                        + watch.pauses().getFirst().toMillis() + " ms");
            }
            Path mem1 = memoryFile("li", "c1");
            Path mem2 = memoryFile("li", "c2");
            for (Path mem : List.of(mem1, mem2)) {
                assertThat(mem.getParent()).as("beside the first disk").isEqualTo(d.disks.get(0).getParent());
                assertThat(Files.getPosixFilePermissions(mem)).isEqualTo(PosixFilePermissions.fromString("rw-------"));
            }
            assertThat(ok("snapshot-dumpxml", "li", "c1")).contains("<state>running</state>")
                    .contains("<disk name='vda' snapshot='internal'").contains("<disk name='vdb' snapshot='internal'");
            assertThat(ok("snapshot-info", "li", "c1")).containsPattern("State: +running");
            for (Path disk : d.disks) {
                assertThat(CheckpointIT.qemuSnapshots(disk)).containsKeys("c1", "c2");
            }
            assertThat(ok("snapshot-list", "li", "--tree")).isEqualTo("c1\n  |\n  +- c2\n    \n\n");

            // The state folder lost: recover brings both back from the mirror beside the disks,
            // memory files included (the deletes below remove them: they are known as vmsnap's).
            String xml1 = ok("snapshot-dumpxml", "li", "c1");
            String xml2 = ok("snapshot-dumpxml", "li", "c2");
            try (var all = Files.walk(d.home)) {
                for (Path p : all.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
            ok("define", dir.resolve("li.xml").toString());
            String report = ok("recover", "li");
            assertThat(ok("snapshot-dumpxml", "li", "c1")).as("recover said:%n%s", report).isEqualTo(xml1);
            assertThat(ok("snapshot-dumpxml", "li", "c2")).isEqualTo(xml2);
            assertThat(ok("snapshot-list", "li", "--tree")).isEqualTo("c1\n  |\n  +- c2\n    \n\n");

            // Back to c1 from the running guest: QEMU restarts, the disks' snapshots applied, memory fed
            // in. vmsnap killed before every step of it first: the next command finishes the revert or
            // undoes it; the guest is never left paused and no journal or partial file stays.
            CheckpointIT.counted(d, m2.high(), 5);
            List<String> reverts = CheckpointIT.revertKilledAtEveryStep(d, "c1", m1, step -> {
                assertThat(partials()).as("after a kill at step %d", step).isEmpty();
                assertThat(memFiles()).as("both memory files stay after a kill at step %d", step).hasSize(2);
                for (Path disk : d.disks) {
                    assertThat(CheckpointIT.qemuSnapshots(disk)).containsKeys("c1", "c2");
                }
            });
            assertThat(reverts).endsWith("done");
            System.out.println("LiveInternalCheckpointIT: revert outcomes by step " + reverts);
            assertThat(ok("domstate", "li", "--reason").strip()).isEqualTo("running (from snapshot)");

            // To c2, paused, from a shut-off domain; then resumed.
            CheckpointIT.counted(d, m1.high(), 5);
            ok("destroy", "li");
            ok("snapshot-revert", "li", "c2", "--paused");
            assertThat(ok("domstate", "li", "--reason").strip()).isEqualTo("paused (from snapshot)");
            long at = d.logSize();
            ok("resume", "li");
            CheckpointIT.continuesFrom(d, at, m2);

            // Delete: the memory file and the disks' internal snapshots go.
            ok("snapshot-delete", "li", "c2");
            assertThat(mem2).doesNotExist();
            assertThat(mem1).exists();
            ok("snapshot-delete", "li", "c1");
            assertThat(mem1).doesNotExist();
            for (Path disk : d.disks) {
                assertThat(CheckpointIT.qemuSnapshots(disk)).doesNotContainKeys("c1", "c2");
            }

            long last = d.awaitCounters(d.logSize()).getLast().n();
            ok("shutdown", "li");
            d.awaitState("shut off (shutdown)", Duration.ofSeconds(60));
            for (Path p : d.disks) {
                assertThat(QemuImg.check(p).exitCode()).as("qemu-img check %s", p).isZero();
            }
            TestGuest.DiskPair end = TestGuest.readDiskPair(d.disks.get(0), d.disks.get(1), "qcow2");
            assertThat(end.first().isContiguous()).as("vda: records 1..n").isTrue();
            assertThat(end.second().isContiguous()).as("vdb: records 1..n").isTrue();
            assertThat(last).isPositive();
            assertThat(Cli.run("snapshot-list", "li").exitCode()).isZero();
        }
    }

    /** The node name of the guest's disk number {@code index} (query-block order). */
    private static String nodeOf(QmpClient qmp, int index) throws Exception {
        return qmp.execute("query-block", null, Duration.ofSeconds(30)).get(index).path("inserted")
                .path("node-name").asText();
    }
}
