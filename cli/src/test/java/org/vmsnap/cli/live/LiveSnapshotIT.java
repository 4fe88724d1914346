package org.vmsnap.cli.live;

import static org.assertj.core.api.Assertions.assertThat;
import static org.vmsnap.cli.live.LiveDomain.fails;
import static org.vmsnap.cli.live.LiveDomain.ok;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.qmp.QmpClient;
import org.vmsnap.qmp.QmpEvent;
import org.vmsnap.testkit.QemuImg;
import org.vmsnap.testkit.TestGuest;

/**
 * Disk snapshots of the running test guest through vmsnap's command line, judged by the guest's
 * own records (numbered, checksummed, written to both disks in lockstep) and by ext4 itself:
 * <ul>
 * <li>a quiesced snapshot's frozen images are clean ext4 with no journal to replay, a plain one's
 *     need recovery; both disks always hold the same last record (one transaction);</li>
 * <li>no disk-only snapshot pauses the guest (no STOP event on a second monitor);</li>
 * <li>internal, external and mixed snapshots, then live deletes of every shape (active commit,
 *     commit below the active image, internal, a subtree), a revert that restarts the guest, and
 *     after the final shutdown both disks hold records 1..n with nothing lost.</li>
 * </ul>
 */
class LiveSnapshotIT {
    @TempDir
    Path dir;

    static Path source(String domain, String target) {
        String line = ok("domblklist", domain).lines().filter(l -> l.strip().startsWith(target + " ")).findFirst()
                .orElseThrow();
        return Path.of(line.strip().substring(target.length()).strip());
    }

    /** The images of a snapshot's disks: the files the domain ran on when it was taken. */
    private static Path frozen(String domain, String snapshot, String target) {
        String xml = ok("snapshot-dumpxml", domain, snapshot);
        String inDomain = xml.substring(xml.indexOf("<domain"));
        int disk = inDomain.indexOf("<target dev='" + target + "'");
        String before = inDomain.substring(0, disk);
        String src = before.substring(before.lastIndexOf("<source file='") + "<source file='".length());
        return Path.of(src.substring(0, src.indexOf('\'')));
    }

    @Test
    void snapshotsOfTheRunningGuestAreConsistentAtomicAndPauseNothing() throws Exception {
        try (LiveDomain d = LiveDomain.define(dir, "g", 2)) {
            d.startAndAwaitReady();
            d.awaitSerial(0, TestGuest.SECOND_DISK_LINE);
            d.awaitSerial(d.logSize(), "COUNTER");
            List<QmpEvent> stops = new CopyOnWriteArrayList<>();
            try (QmpClient monitor = QmpClient.connect(d.runDir().resolve("status.sock"), Duration.ofSeconds(30));
                 var sub = monitor.subscribe(e -> {
                     if (e.name().equals("STOP")) {
                         stops.add(e);
                     }
                 })) {
                // Quiesced, both disks external, one transaction.
                assertThat(ok("snapshot-create-as", "g", "q1", "--disk-only", "--quiesce", "--atomic"))
                        .isEqualTo("Domain snapshot q1 created\n");
                Path a1 = frozen("g", "q1", "vda");
                Path b1 = frozen("g", "q1", "vdb");
                assertThat(a1).isEqualTo(d.disks.get(0));
                assertThat(source("g", "vda")).isEqualTo(dir.resolve("data0.q1"));
                assertThat(TestGuest.fsck(a1, "qcow2").clean()).as("e2fsck -fn of the quiesced vda").isTrue();
                assertThat(TestGuest.needsRecovery(a1, "qcow2")).as("quiesced: nothing to replay").isFalse();
                assertThat(TestGuest.needsRecovery(b1, "qcow2")).isFalse();
                TestGuest.DiskPair q = TestGuest.readDiskPair(a1, b1, "qcow2");
                assertThat(q.first().isContiguous()).isTrue();
                assertThat(q.first().last()).isPositive();
                assertThat(q.inLockstep()).as("vda %d, vdb %d", q.first().last(), q.second().last()).isTrue();

                // Not quiesced: the guest's journal is mid-flight, the two disks still one instant.
                d.awaitSerial(d.logSize(), "COUNTER");
                assertThat(ok("snapshot-create-as", "g", "n1", "--disk-only")).isEqualTo("Domain snapshot n1 created\n");
                Path a2 = frozen("g", "n1", "vda");
                assertThat(a2).isEqualTo(dir.resolve("data0.q1"));
                assertThat(TestGuest.needsRecovery(a2, "qcow2")).as("a live copy of a mounted ext4").isTrue();
                TestGuest.DiskPair n = TestGuest.readDiskPair(a2, frozen("g", "n1", "vdb"), "qcow2");
                assertThat(n.inLockstep()).as("vda %d, vdb %d", n.first().last(), n.second().last()).isTrue();
                assertThat(n.first().last()).isGreaterThanOrEqualTo(q.first().last());

                // Internal on both disks (libvirt refuses this for a running domain), then mixed.
                assertThat(ok("snapshot-create-as", "g", "i1", "--disk-only", "--diskspec", "vda,snapshot=internal",
                        "--diskspec", "vdb,snapshot=internal")).isEqualTo("Domain snapshot i1 created\n");
                assertThat(QemuImg.runUnchecked(List.of("info", "-U", "--output=json", source("g", "vda").toString()))
                        .stdout()).as("QEMU's own view of the image").contains("\"name\": \"i1\"");
                assertThat(ok("snapshot-create-as", "g", "m1", "--disk-only", "--diskspec", "vda,snapshot=internal",
                        "--diskspec", "vdb,snapshot=external")).isEqualTo("Domain snapshot m1 created\n");
                assertThat(source("g", "vdb")).isEqualTo(dir.resolve("data1.m1"));
                assertThat(ok("snapshot-list", "g", "--tree")).isEqualTo(
                        "q1\n  |\n  +- n1\n      |\n      +- i1\n          |\n          +- m1\n            \n\n");
                assertThat(stops).as("disk-only snapshots never stop the guest").isEmpty();

                // Live deletes, every shape.
                ok("snapshot-delete", "g", "m1");          // vda: internal in the active image; vdb: active commit
                assertThat(source("g", "vdb")).isEqualTo(dir.resolve("data1.n1"));
                assertThat(dir.resolve("data1.m1")).doesNotExist();
                ok("snapshot-delete", "g", "q1");          // below the active image: committed by QEMU
                assertThat(d.disks.get(0)).as("the user's own image stays").exists();
                ok("snapshot-delete", "g", "n1");          // its frozen images are now the disks' active ones' base
                assertThat(ok("snapshot-list", "g", "--name")).isEqualTo("i1\n\n");
                ok("snapshot-create-as", "g", "e2", "--disk-only");
                ok("snapshot-create-as", "g", "e3", "--disk-only");
                // i1 is internal inside images below the active ones now: QEMU cannot delete it there,
                // so its metadata goes now and the snapshot itself once the domain is off.
                ok("snapshot-delete", "g", "i1", "--children");
                assertThat(ok("snapshot-list", "g", "--name")).isEqualTo("\n");
                assertThat(stops).as("nor do live deletes").isEmpty();
            }
            long last = d.awaitCounters(d.logSize()).getLast().n();
            assertThat(ok("shutdown", "g")).isEqualTo("Domain 'g' is being shutdown\n\n");
            d.awaitState("shut off (shutdown)", Duration.ofSeconds(60));
            // The first change to the shut-off domain finishes what waited (and removes what it freed).
            ok("snapshot-create-as", "g", "last", "--disk-only");
            ok("snapshot-delete", "g", "last");
            List<Path> tops = List.of(source("g", "vda"), source("g", "vdb"));
            for (Path p : tops) {
                assertThat(QemuImg.check(p).exitCode()).as("qemu-img check %s", p).isZero();
            }
            TestGuest.DiskPair end = TestGuest.readDiskPair(tops.get(0), tops.get(1), "qcow2");
            assertThat(end.first().isContiguous()).as("vda: records 1..n across every snapshot and delete").isTrue();
            assertThat(end.second().isContiguous()).isTrue();
            assertThat(end.first().last()).isGreaterThanOrEqualTo(last);
            assertThat(end.inLockstep()).isTrue();
            for (Path p : tops) {
                assertThat(QemuImg.infoJson(p).path("snapshots").size()).as("internal snapshots left in %s", p)
                        .isZero();
            }
            try (var files = Files.list(dir)) {
                assertThat(files.map(p -> p.getFileName().toString()).filter(f -> f.startsWith("data")))
                        .as("nothing left behind but the disks' images")
                        .containsExactlyInAnyOrderElementsOf(names(tops, d));
            }
        }
    }

    private static List<String> names(List<Path> tops, LiveDomain d) {
        List<String> out = new ArrayList<>();
        for (Path p : d.disks) {
            out.add(p.getFileName().toString());
        }
        for (Path p : tops) {
            if (!out.contains(p.getFileName().toString())) {
                out.add(p.getFileName().toString());
            }
        }
        return out;
    }

    @Test
    void revertOfARunningDomainStopsItAndStartsItAgainOnlyWhenAsked() throws Exception {
        try (LiveDomain d = LiveDomain.define(dir, "r", 2)) {
            d.startAndAwaitReady();
            d.awaitSerial(d.logSize(), "COUNTER");
            ok("snapshot-create-as", "r", "s1", "--disk-only", "--quiesce");
            long atSnapshot = TestGuest.readRecords(frozen("r", "s1", "vda"), "qcow2").last();
            d.awaitSerial(d.logSize(), "COUNTER");
            assertThat(ok("snapshot-revert", "r", "s1")).isEqualTo("Domain snapshot s1 reverted\n\n");
            assertThat(ok("domstate", "r", "--reason")).isEqualTo("shut off (from snapshot)\n\n"); // libvirt's
            assertThat(ok("snapshot-revert", "r", "s1", "--running")).isEqualTo("Domain snapshot s1 reverted\n\n");
            assertThat(ok("domstate", "r")).isEqualTo("running\n\n"); // from shut off
            String boot = d.bootId();
            // vmsnap killed before every step of a revert --running of the running domain: the next
            // command settles it, and the domain runs, on in its QEMU ("old") or started from the
            // snapshot's disks ("new"); never shut off, never paused, never "old" after a change.
            List<String> outcomes = new ArrayList<>();
            long from;
            for (int step = 1; ; step++) {
                assertThat(step).as("a revert of fewer than 30 steps: %s", outcomes).isLessThan(30);
                long pid = d.pid();
                from = d.logSize();
                if (!LiveDomain.crashedAt(step, "snapshot-revert", "r", "s1", "--running")) {
                    assertThat(d.pid()).as("the revert restarted QEMU").isNotEqualTo(pid);
                    break;
                }
                ok("snapshot-list", "r"); // the next command settles it
                assertThat(d.home.resolve("r").resolve("journal")).as("killed before step %d", step).doesNotExist();
                assertThat(ok("domstate", "r").strip()).as("killed before step %d: %s", step, outcomes)
                        .isEqualTo("running");
                assertThat(CheckpointIT.qemuStatus(d)).as("killed before step %d", step).isEqualTo("running");
                outcomes.add(d.pid() == pid ? "old" : "new");
            }
            assertThat(outcomes).as("killed at every step").contains("new");
            assertThat(outcomes.stream().dropWhile("old"::equals).toList()).as("%s", outcomes).doesNotContain("old");
            assertThat(d.awaitBoot(from)).isNotEqualTo(boot);
            // The guest goes on from the snapshot's disks: its first new record follows the snapshot's last.
            long n = d.awaitCounters(from).getFirst().n();
            assertThat(n).isEqualTo(atSnapshot + 1);
            assertThat(ok("snapshot-revert", "r", "s1", "--paused")).isEqualTo("Domain snapshot s1 reverted\n\n");
            assertThat(ok("domstate", "r", "--reason")).isEqualTo("paused (user)\n\n");
            ok("destroy", "r");
        }
    }

    @Test
    void quiesceIsRefusedBeforeAnythingChangesWithoutAnAgentThatAnswers() throws Exception {
        try (LiveDomain d = LiveDomain.define(dir, "a", 1)) {
            assertThat(fails("snapshot-create-as", "a", "x", "--disk-only", "--quiesce"))
                    .contains("domain is not running");
            d.startAndAwaitReady();
            ok("suspend", "a"); // the agent cannot answer while the guest's CPUs stand still
            assertThat(fails("snapshot-create-as", "a", "x", "--disk-only", "--quiesce"))
                    .isEqualTo("vmsnap: Requested operation is not valid: domain is not running"); // libvirt's order
            assertThat(ok("snapshot-list", "a", "--name")).isEqualTo("\n");
            assertThat(source("a", "vda")).isEqualTo(d.disks.getFirst());
            ok("resume", "a");
            // Without --disk-only a running domain gets a checkpoint (CheckpointIT judges it).
            assertThat(ok("snapshot-create-as", "a", "x")).isEqualTo("Domain snapshot x created\n");
            assertThat(ok("snapshot-list", "a")).contains("running");
            ok("destroy", "a");
        }
    }
}
