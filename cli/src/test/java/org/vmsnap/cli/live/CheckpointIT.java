package org.vmsnap.cli.live;

import static org.assertj.core.api.Assertions.assertThat;
import static org.vmsnap.cli.live.LiveDomain.fails;
import static org.vmsnap.cli.live.LiveDomain.ok;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.cli.Cli;
import org.vmsnap.qmp.QmpClient;
import org.vmsnap.testkit.QemuImg;
import org.vmsnap.testkit.TestGuest;

/**
 * Internal checkpoints (disks and memory inside the qcow2 images) of the running test guest. The
 * oracles: the guest's in-memory counter on its serial console (after a revert it goes on from
 * the checkpoint's value, same boot), its numbered records on both data disks (contiguous after
 * the final shutdown, e2fsck clean), QEMU's own view ({@code qemu-img snapshot -l}: VM state in
 * the first disk; its own {@code loadvm} loads the checkpoint), and its STOP/RESUME events on a
 * monitor of the test's own.
 */
class CheckpointIT {
    @TempDir
    Path dir;

    private static final ObjectMapper JSON = new ObjectMapper();

    /** The counter value the checkpoint holds lies between the last counters printed before and after the create. */
    record Moment(long low, long high, String boot) {
    }

    static long lastCounter(String text) {
        List<TestGuest.Counter> c = TestGuest.counters(text);
        return c.isEmpty() ? 0 : c.getLast().n();
    }

    static String log(LiveDomain d) {
        return TestGuest.readFrom(d.serialLog(), 0);
    }

    /** Takes checkpoint {@code name} and returns where the guest's counter was. */
    static Moment checkpoint(LiveDomain d, String name, String... extra) {
        long low = lastCounter(log(d));
        List<String> args = new ArrayList<>(List.of("snapshot-create-as", d.name, name));
        args.addAll(List.of(extra));
        assertThat(ok(args.toArray(String[]::new))).isEqualTo("Domain snapshot " + name + " created\n");
        return new Moment(low, lastCounter(log(d)), d.bootId());
    }

    /** Waits until the guest has counted {@code more} past {@code from}. */
    static void counted(LiveDomain d, long from, long more) {
        long deadline = System.nanoTime() + LiveDomain.BOOT.toNanos();
        while (lastCounter(log(d)) < from + more) {
            assertThat(System.nanoTime()).as("the guest counts on").isLessThan(deadline);
            d.awaitSerial(d.logSize(), "COUNTER");
        }
    }

    /**
     * After byte {@code offset} the guest's counter jumps back to the checkpoint's value plus one,
     * same boot (counters printed before the revert took effect come first and are higher).
     */
    static void continuesFrom(LiveDomain d, long offset, Moment m) {
        long deadline = System.nanoTime() + LiveDomain.BOOT.toNanos();
        while (true) {
            List<TestGuest.Counter> c = TestGuest.counters(TestGuest.readFrom(d.serialLog(), offset));
            for (int i = 0; i < c.size(); i++) {
                if (i == 0 ? c.get(0).n() <= m.high() + 1 : c.get(i).n() < c.get(i - 1).n()) {
                    assertThat(c.get(i).boot()).as("the same boot: memory restored, not rebooted").isEqualTo(m.boot());
                    assertThat(c.get(i).n()).as("the counter goes on from the checkpoint's value (%s; %s)", m, c)
                            .isBetween(m.low() + 1, m.high() + 1);
                    return;
                }
            }
            assertThat(System.nanoTime()).as("the counter went back to the checkpoint: %s", c).isLessThan(deadline);
            d.awaitSerial(d.logSize(), "COUNTER");
        }
    }

    /** qemu-img's view of an image's internal snapshots (-U: QEMU may hold it): name to VM state size. */
    /** What a test checks after each kill of {@link #revertKilledAtEveryStep}. */
    interface AfterKill {
        void check(int step) throws Exception;
    }

    /**
     * vmsnap killed before every step of a revert to checkpoint {@code name} that restarts QEMU
     * from a memory file, from the running guest. After each kill the next command settles it (no
     * journal left) and the guest runs either on, untouched ("old": the same QEMU), or from the
     * checkpoint ("new": a new QEMU, its counter continues from {@code m}); never paused, never shut
     * off. Returns the outcomes by step, the last "done": the revert that ran to its end continued
     * from {@code m}.
     */
    static List<String> revertKilledAtEveryStep(LiveDomain d, String name, Moment m, AfterKill after) throws Exception {
        List<String> outcomes = new ArrayList<>();
        for (int step = 1; step < 40; step++) {
            counted(d, m.high(), 5);
            long pid = d.pid();
            long at = d.logSize();
            if (!LiveDomain.crashedAt(step, "snapshot-revert", d.name, name)) {
                outcomes.add("done");
                assertThat(d.pid()).as("the revert restarted QEMU").isNotEqualTo(pid);
                continuesFrom(d, at, m);
                List<String> afterFirstChange = outcomes.stream().dropWhile("old"::equals).toList();
                assertThat(afterFirstChange).as("undone until QEMU was stopped, finished after: %s", outcomes)
                        .doesNotContain("old");
                return outcomes;
            }
            ok("snapshot-list", d.name); // the next command settles it
            assertThat(d.home.resolve(d.name).resolve("journal")).as("revert killed before step %d", step).doesNotExist();
            // Neither shut off (the old QEMU stopped, the disks rolled back) nor paused.
            assertThat(ok("domstate", d.name).strip()).as("revert killed before step %d: %s", step, outcomes)
                    .isEqualTo("running");
            assertThat(qemuStatus(d)).as("revert killed before step %d", step).isEqualTo("running");
            if (d.pid() == pid) {
                outcomes.add("old");
            } else {
                continuesFrom(d, at, m);
                outcomes.add("new");
            }
            after.check(step);
        }
        throw new AssertionError("a revert of more than 39 steps: " + outcomes);
    }

    static Map<String, Long> qemuSnapshots(Path image) throws Exception {
        String out = QemuImg.run(List.of("info", "-U", "--output=json", "-f", "qcow2", image.toString())).stdout();
        Map<String, Long> m = new HashMap<>();
        for (JsonNode s : JSON.readTree(out).path("snapshots")) {
            m.put(s.path("name").asText(), s.path("vm-state-size").asLong());
        }
        return m;
    }

    /** The bytes the file occupies on the host (its allocated blocks, not its length). */
    private static long diskBytes(Path p) throws Exception {
        Process proc = new ProcessBuilder("stat", "-c", "%b %B", p.toString()).start();
        String[] f = new String(proc.getInputStream().readAllBytes()).strip().split(" ");
        assertThat(proc.waitFor()).isZero();
        return Long.parseLong(f[0]) * Long.parseLong(f[1]);
    }

    static String qemuStatus(LiveDomain d) throws Exception {
        try (QmpClient q = QmpClient.connect(d.runDir().resolve("status.sock"), Duration.ofSeconds(30))) {
            return q.execute("query-status", null, Duration.ofSeconds(30)).path("status").asText();
        }
    }

    private static void shutDownAndJudge(LiveDomain d) throws Exception {
        ok("shutdown", d.name);
        d.awaitState("shut off (shutdown)", Duration.ofSeconds(120));
        TestGuest.DiskPair end = TestGuest.readDiskPair(d.disks.get(0), d.disks.get(1), "qcow2");
        assertThat(end.first().isContiguous()).as("vda records: %s", end.first().invalid()).isTrue();
        assertThat(end.second().isContiguous()).as("vdb records").isTrue();
        assertThat(end.inLockstep()).isTrue();
        for (Path p : d.disks) {
            assertThat(TestGuest.fsck(p, "qcow2").clean()).as("e2fsck of %s", p).isTrue();
            assertThat(QemuImg.check(p).exitCode()).as("qemu-img check %s", p).isZero();
        }
    }

    @Test
    void aCheckpointTakenWhileTheGuestWritesIsRevertedInQemuAndAfterARestartAndDeletedWithItsVmState()
            throws Exception {
        Path monitor = dir.resolve("watch.sock");
        try (LiveDomain d = LiveDomain.define(dir, "c", 2, xml -> PauseWatch.withMonitor(xml, monitor))) {
            d.startAndAwaitReady();
            d.awaitSerial(0, TestGuest.SECOND_DISK_LINE);
            counted(d, 0, 5);
            Moment m;
            try (PauseWatch watch = PauseWatch.connect(monitor)) {
                m = checkpoint(d, "c1", "first checkpoint");
                List<Duration> pauses = watch.pauses();
                assertThat(pauses).as("one pause: the save").hasSize(1);
                System.out.println("CheckpointIT: internal checkpoint paused the guest " + pauses.getFirst().toMillis()
                        + " ms");
            }
            assertThat(ok("snapshot-list", "c")).contains(" c1 ").contains("running");
            assertThat(ok("snapshot-info", "c", "c1")).contains("State:          running")
                    .contains("Location:       internal");
            assertThat(ok("snapshot-dumpxml", "c", "c1")).contains("<state>running</state>")
                    .contains("<memory snapshot='internal'/>").contains("<disk name='vda' snapshot='internal'/>")
                    .contains("<disk name='vdb' snapshot='internal'/>");
            assertThat(qemuSnapshots(d.disks.get(0))).as("the VM state inside vda's image, as savevm keeps it")
                    .hasEntrySatisfying("c1", size -> assertThat(size).isPositive());
            assertThat(qemuSnapshots(d.disks.get(1))).containsEntry("c1", 0L);

            // The guest keeps going; revert in the running QEMU (same process, no restart).
            counted(d, m.high(), 15);
            long pid = d.pid();
            long at = d.logSize();
            assertThat(ok("snapshot-revert", "c", "c1").strip()).isEqualTo("Domain snapshot c1 reverted");
            continuesFrom(d, at, m);
            assertThat(d.pid()).as("reverted inside the running QEMU").isEqualTo(pid);
            assertThat(ok("domstate", "c", "--reason").strip()).isEqualTo("running (from snapshot)");

            // --paused: the guest is at the checkpoint and waits.
            counted(d, m.high(), 15);
            ok("snapshot-revert", "c", "c1", "--paused");
            assertThat(ok("domstate", "c", "--reason").strip()).isEqualTo("paused (from snapshot)");
            assertThat(qemuStatus(d)).isEqualTo("paused");
            at = d.logSize();
            ok("resume", "c");
            continuesFrom(d, at, m);

            // From a shut-off domain: QEMU starts paused, loads the checkpoint, runs.
            counted(d, m.high(), 15);
            ok("destroy", "c");
            at = d.logSize();
            ok("snapshot-revert", "c", "c1", "--running");
            continuesFrom(d, at, m);
            assertThat(d.pid()).isNotEqualTo(pid);
            assertThat(ok("domstate", "c", "--reason").strip()).isEqualTo("running (from snapshot)");

            // QEMU's own loadvm reads what vmsnap saved.
            counted(d, m.high(), 15);
            try (PauseWatch watch = PauseWatch.connect(monitor)) {
                at = d.logSize();
                JsonNode r = watch.qmp().execute("human-monitor-command",
                        QmpClient.arguments().put("command-line", "loadvm c1"), Duration.ofMinutes(2));
                assertThat(r.asText()).as("HMP loadvm says nothing when it works").isEmpty();
                continuesFrom(d, at, m);
            }

            // A second checkpoint, then the first deleted while the domain runs: QEMU frees it.
            counted(d, m.high(), 10);
            checkpoint(d, "c2");
            ok("snapshot-delete", "c", "c1");
            assertThat(qemuSnapshots(d.disks.get(0))).containsOnlyKeys("c2");
            assertThat(qemuSnapshots(d.disks.get(1))).containsOnlyKeys("c2");
            counted(d, lastCounter(log(d)), 5);
            shutDownAndJudge(d);

            // Deleted while shut off: the offline engine frees the VM state.
            long vmState = qemuSnapshots(d.disks.get(0)).get("c2");
            long before = diskBytes(d.disks.get(0));
            ok("snapshot-delete", "c", "c2");
            for (Path p : d.disks) {
                assertThat(qemuSnapshots(p)).isEmpty();
                assertThat(QemuImg.check(p).exitCode()).isZero();
            }
            long after = diskBytes(d.disks.get(0));
            assertThat(before - after).as("c2's VM state (%d bytes) is punched out of the file", vmState)
                    .isGreaterThan(vmState / 2);
            assertThat(ok("snapshot-list", "c", "--name")).isEqualTo("\n");
        }
    }

    @Test
    void whatQemuCannotCheckpointIsRefusedWithLibvirtsWordsAndNothingChanges() throws Exception {
        try (LiveDomain d = LiveDomain.define(dir, "r", 1)) {
            d.startAndAwaitReady();
            assertThat(fails("snapshot-create-as", "r", "x", "--diskspec", "vda,snapshot=external"))
                    .contains("mixing internal and external targets for a snapshot is not yet supported");
            assertThat(fails("snapshot-create-as", "r", "x", "--diskspec", "vdz"))
                    .contains("has no disk named 'vdz'");
            assertThat(ok("snapshot-list", "r", "--name")).isEqualTo("\n");
            assertThat(qemuSnapshots(d.disks.getFirst())).isEmpty();
            assertThat(qemuStatus(d)).isEqualTo("running");
        }
    }

    @Test
    void aRawDiskIsRefusedAsLibvirtDoes() throws Exception {
        Path raw = dir.resolve("data0.raw");
        try (LiveDomain d = LiveDomain.define(dir, "w", 1, xml -> xml.replace("type='qcow2'", "type='raw'")
                .replaceFirst("data0\\.qcow2", "data0.raw"))) {
            QemuImg.convert(d.disks.getFirst(), "qcow2", raw, "raw");
            d.startAndAwaitReady();
            assertThat(fails("snapshot-create-as", "w", "x"))
                    .contains("internal snapshot for disk vda unsupported for storage type raw");
            assertThat(ok("snapshot-list", "w", "--name")).isEqualTo("\n");
            assertThat(qemuStatus(d)).isEqualTo("running");
        }
    }

    // ---------------------------------------------------------------- faults

    @Test
    void vmsnapKilledBeforeEveryStepOfACheckpointAndOfItsRevertsLeavesNoPausedGuestAndLosesNothing()
            throws Exception {
        try (LiveDomain d = LiveDomain.define(dir, "f", 2)) {
            d.startAndAwaitReady();
            d.awaitSerial(0, TestGuest.SECOND_DISK_LINE);
            List<String> creates = new ArrayList<>();
            for (int step = 1; step < 30; step++) {
                if (!LiveDomain.crashedAt(step, "snapshot-create-as", "f", "x", "--quiesce")) {
                    creates.add("done");
                    break;
                }
                ok("snapshot-list", "f"); // the next command settles it
                assertThat(d.home.resolve("f").resolve("journal")).doesNotExist();
                assertThat(qemuStatus(d)).as("create killed before step %d", step).isEqualTo("running");
                boolean made = ok("snapshot-list", "f", "--name").contains("x");
                creates.add(made ? "new" : "old");
                for (Path p : d.disks) {
                    assertThat(qemuSnapshots(p).containsKey("x")).as("%s after a kill at step %d", p, step)
                            .isEqualTo(made);
                }
                d.awaitSerial(d.logSize(), "COUNTER");
                if (made) {
                    ok("snapshot-delete", "f", "x");
                }
            }
            assertThat(creates).contains("old").endsWith("done");
            System.out.println("CheckpointIT: create outcomes by step " + creates);

            Moment m = checkpoint(d, "c");
            List<String> reverts = new ArrayList<>();
            for (int step = 1; step < 30; step++) {
                counted(d, m.high(), 10);
                long at = d.logSize();
                long pid = d.pid();
                if (!LiveDomain.crashedAt(step, "snapshot-revert", "f", "c")) {
                    reverts.add("done");
                    continuesFrom(d, at, m);
                    break;
                }
                ok("snapshot-list", "f");
                assertThat(d.home.resolve("f").resolve("journal")).doesNotExist();
                assertThat(qemuStatus(d)).as("revert killed before step %d", step).isEqualTo("running");
                assertThat(d.pid()).isEqualTo(pid);
                // Settled: a counter printed from now on is in the final timeline. Counters printed
                // before the kill stopped the guest may come first (a loaded machine is slow to get
                // there), so the revert took effect iff any counter since the start went back.
                d.awaitSerial(d.logSize(), "COUNTER");
                boolean back = TestGuest.counters(TestGuest.readFrom(d.serialLog(), at)).stream()
                        .anyMatch(c -> c.n() <= m.high() + 1);
                reverts.add(back ? "new" : "old");
            }
            assertThat(reverts).contains("old", "new").endsWith("done");
            System.out.println("CheckpointIT: in-QEMU revert outcomes by step " + reverts);

            List<String> restarts = new ArrayList<>();
            for (int step = 1; step < 30; step++) {
                if (!ok("domstate", "f").strip().equals("shut off")) {
                    ok("destroy", "f");
                }
                long at = d.logSize();
                if (!LiveDomain.crashedAt(step, "snapshot-revert", "f", "c", "--running")) {
                    restarts.add("done");
                    continuesFrom(d, at, m);
                    break;
                }
                ok("snapshot-list", "f");
                assertThat(d.home.resolve("f").resolve("journal")).doesNotExist();
                if (ok("domstate", "f").strip().equals("running")) {
                    assertThat(qemuStatus(d)).isEqualTo("running");
                    continuesFrom(d, at, m);
                    restarts.add("new");
                } else {
                    restarts.add("old");
                }
            }
            assertThat(restarts).contains("new").endsWith("done");
            System.out.println("CheckpointIT: revert-by-restart outcomes by step " + restarts);
            counted(d, m.high(), 10);
            shutDownAndJudge(d);
        }
    }

    /** vmsnap in a JVM of its own (so that it can be killed), on this test's state folder. */
    private static Process vmsnapProcess(LiveDomain d, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "-Dvmsnap.home=" + d.home, "org.vmsnap.cli.Main"));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(d.dir.resolve("killed.log").toFile())
                .start();
    }

    /** Kills {@code p} (SIGKILL) as soon as QEMU runs the job it started (snapshot-save or -load). */
    private static void killInJob(Process p, PauseWatch watch) throws Exception {
        try (QmpClient.EventStream jobs = watch.qmp().events(e -> e.name().equals("JOB_STATUS_CHANGE")
                && e.data().path("status").asText().equals("running"))) {
            jobs.next(Duration.ofMinutes(2));
        }
        p.destroyForcibly();
        p.waitFor();
    }

    @Test
    void vmsnapKilledWhileQemuSavesOrLoadsTheCheckpointIsFinishedByTheNextCommand() throws Exception {
        Path monitor = dir.resolve("watch.sock");
        try (LiveDomain d = LiveDomain.define(dir, "k", 2, xml -> PauseWatch.withMonitor(xml, monitor))) {
            d.startAndAwaitReady();
            d.awaitSerial(0, TestGuest.SECOND_DISK_LINE);
            counted(d, 0, 5);
            long low = lastCounter(log(d));
            try (PauseWatch watch = PauseWatch.connect(monitor)) {
                killInJob(vmsnapProcess(d, "snapshot-create-as", "k", "x"), watch);
                long high = lastCounter(log(d));
                // QEMU finished the job and resumed the guest on its own; the next command records it.
                assertThat(Cli.run("snapshot-list", "k").err()).contains("finished the interrupted");
                assertThat(d.home.resolve("k").resolve("journal")).doesNotExist();
                assertThat(qemuStatus(d)).isEqualTo("running");
                assertThat(ok("snapshot-list", "k", "--name").strip()).isEqualTo("x");
                assertThat(watch.qmp().execute("query-jobs", null, Duration.ofSeconds(30))).as("no job left").isEmpty();
                assertThat(qemuSnapshots(d.disks.get(0))).hasEntrySatisfying("x", v -> assertThat(v).isPositive());
                assertThat(qemuSnapshots(d.disks.get(1))).containsKey("x");
                Moment m = new Moment(low, high, d.bootId());

                counted(d, m.high(), 15);
                long at = d.logSize();
                killInJob(vmsnapProcess(d, "snapshot-revert", "k", "x"), watch);
                // The next command finishes the revert: the guest is stopped, loaded again, resumed.
                assertThat(Cli.run("snapshot-list", "k").err()).contains("finished the interrupted");
                assertThat(d.home.resolve("k").resolve("journal")).doesNotExist();
                assertThat(qemuStatus(d)).isEqualTo("running");
                continuesFrom(d, at, m);
            }
            counted(d, lastCounter(log(d)), 5);
            shutDownAndJudge(d);
        }
    }

    @Test
    void aFullDiskDuringTheSaveIsAClearErrorTheImageStaysCleanAndTheGuestRuns() throws Exception {
        Path small = Files.createDirectories(dir.resolve("small"));
        mount(small, "24m");
        try {
            // Preallocated, so that the guest's own writes need no new space: only the VM state does.
            Path made = dir.resolve("made.qcow2");
            TestGuest.createDataDisk(made, 16);
            Path disk = small.resolve("data0.qcow2");
            QemuImg.convert(made, "qcow2", disk, "qcow2", "-o", "preallocation=full");
            Path xml = dir.resolve("s.xml");
            Files.writeString(xml, TestGuest.get().domainXml("s", List.of(disk), dir.resolve("s-serial.log")));
            System.setProperty("vmsnap.home", dir.resolve("home").toString());
            try {
                ok("define", xml.toString());
                ok("start", "s");
                TestGuest.awaitSerial(dir.resolve("s-serial.log"), 0, TestGuest.READY_LINE, LiveDomain.BOOT);
                String err = fails("snapshot-create-as", "s", "x");
                assertThat(err).contains("QEMU could not save the checkpoint x").contains("No space left on device")
                        .contains("nothing was changed");
                assertThat(ok("snapshot-list", "s", "--name")).isEqualTo("\n");
                assertThat(ok("domstate", "s").strip()).isEqualTo("running");
                long at = Files.size(dir.resolve("s-serial.log"));
                TestGuest.awaitSerial(dir.resolve("s-serial.log"), at, "COUNTER", LiveDomain.BOOT);
                assertThat(qemuSnapshots(disk)).isEmpty();
                ok("destroy", "s");
                assertThat(QemuImg.check(disk).exitCode()).as("qemu-img check after the failed save").isZero();
            } finally {
                Cli.run("destroy", "s");
                System.clearProperty("vmsnap.home");
            }
        } finally {
            new ProcessBuilder("umount", small.toString()).start().waitFor();
        }
    }

    private static void mount(Path dir, String size) throws Exception {
        Process p = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", dir.toString())
                .redirectErrorStream(true).start();
        assertThat(p.waitFor()).as("mount a tmpfs (the tests run as root): %s",
                new String(p.getInputStream().readAllBytes())).isZero();
    }
}
