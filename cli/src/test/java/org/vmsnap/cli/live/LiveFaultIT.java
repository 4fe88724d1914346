package org.vmsnap.cli.live;

import static org.assertj.core.api.Assertions.assertThat;
import static org.vmsnap.cli.live.LiveDomain.fails;
import static org.vmsnap.cli.live.LiveDomain.ok;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.cli.Cli;
import org.vmsnap.manager.DomainService;
import org.vmsnap.manager.plan.CrashPoint;
import org.vmsnap.qmp.BlockGraph;
import org.vmsnap.qmp.GuestAgentClient;
import org.vmsnap.qmp.QmpClient;
import org.vmsnap.testkit.QemuImg;
import org.vmsnap.testkit.TestGuest;

/**
 * Faults and bad input during live snapshots, on the running test guest. After each, nothing is
 * lost and the guest ends thawed: vmsnap dies before every step of a quiesced two-disk create and
 * of a live delete (the next command finishes or undoes it; the disks are in the old state or the
 * new one, as QEMU and the metadata agree); QEMU dies before every step; the agent stops
 * answering after the ping (the freeze limit fires, the guest is thawed once it runs again); an
 * overlay file that exists, a full disk, an unsupported device, two commands at once.
 */
class LiveFaultIT {
    @TempDir
    Path dir;

    /** What QEMU runs each disk on now (its own view, from the second monitor). */
    private static Map<String, Path> qemuTops(LiveDomain d) throws Exception {
        try (QmpClient q = QmpClient.connect(d.runDir().resolve("status.sock"), Duration.ofSeconds(30))) {
            BlockGraph g = BlockGraph.query(q, Duration.ofSeconds(30));
            Map<String, Path> out = new TreeMap<>();
            for (String t : List.of("vda", "vdb")) {
                g.backend(t).ifPresent(b -> out.put(t, g.imageFile(b.root()).orElseThrow()));
            }
            return out;
        }
    }

    /** What vmsnap says each disk runs on (domblklist). */
    private static Map<String, Path> metadataTops(String domain) {
        Map<String, Path> out = new TreeMap<>();
        for (String line : ok("domblklist", domain).lines().skip(2).toList()) {
            String[] f = line.strip().split("\\s+", 2);
            if (f.length == 2) {
                out.put(f[0], Path.of(f[1]));
            }
        }
        return out;
    }

    private static String freezeStatus(LiveDomain d) throws Exception {
        try (GuestAgentClient a = GuestAgentClient.connect(d.runDir().resolve("qga.sock"),
                Duration.ofSeconds(20))) {
            return a.fsfreezeStatus();
        }
    }

    /** After an interrupted plan: the next command settled it, QEMU and metadata agree, the guest is thawed and writes. */
    private static boolean settledNew(LiveDomain d, String snapshot) throws Exception {
        List<String> names = List.of(ok("snapshot-list", d.name, "--name").strip().split("\n"));
        assertThat(qemuTops(d)).as("QEMU and the metadata agree on every disk's image").isEqualTo(metadataTops(d.name));
        assertThat(freezeStatus(d)).as("the guest is thawed").isEqualTo("thawed");
        assertThat(d.home.resolve(d.name).resolve("journal")).doesNotExist();
        d.awaitSerial(d.logSize(), "COUNTER");
        return names.contains(snapshot);
    }

    @Test
    void vmsnapDyingAtEveryStepOfAQuiescedCreateAndOfALiveDeleteLosesNothing() throws Exception {
        try (LiveDomain d = LiveDomain.define(dir, "f", 2)) {
            d.startAndAwaitReady();
            d.awaitSerial(0, TestGuest.SECOND_DISK_LINE);
            List<String> outcomes = new ArrayList<>();
            for (int step = 1; step < 40; step++) {
                Map<String, Path> before = metadataTops("f");
                if (!LiveDomain.crashedAt(step, "snapshot-create-as", "f", "x", "--disk-only", "--quiesce")) {
                    outcomes.add("done");
                    break; // the plan has fewer steps
                }
                boolean made = settledNew(d, "x");
                outcomes.add(made ? "new" : "old");
                if (made) {
                    assertThat(metadataTops("f")).isNotEqualTo(before);
                    ok("snapshot-delete", "f", "x");
                } else {
                    assertThat(metadataTops("f")).isEqualTo(before);
                    try (var files = Files.list(dir)) {
                        assertThat(files.map(p -> p.getFileName().toString())).as("no overlay left of the attempt")
                                .noneMatch(n -> n.endsWith(".x") || n.startsWith(".vmsnap-partial-"));
                    }
                }
            }
            assertThat(outcomes).as("undone while the transaction had not run, finished afterwards")
                    .contains("old", "new").endsWith("done");
            assertThat(outcomes.indexOf("new")).isGreaterThan(outcomes.lastIndexOf("old"));

            List<String> deletes = new ArrayList<>();
            for (int step = 1; step < 40; step++) {
                ok("snapshot-create-as", "f", "y", "--disk-only");
                d.awaitSerial(d.logSize(), "COUNTER");
                if (!LiveDomain.crashedAt(step, "snapshot-delete", "f", "y")) {
                    deletes.add("done");
                    break;
                }
                boolean stillThere = settledNew(d, "y");
                deletes.add(stillThere ? "old" : "new");
                if (stillThere) {
                    ok("snapshot-delete", "f", "y");
                }
            }
            assertThat(deletes).as("a delete through QEMU is finished once begun").doesNotContain("old").endsWith("done");

            ok("shutdown", "f");
            d.awaitState("shut off (shutdown)", Duration.ofSeconds(60));
            Map<String, Path> tops = metadataTops("f");
            TestGuest.DiskPair end = TestGuest.readDiskPair(tops.get("vda"), tops.get("vdb"), "qcow2");
            assertThat(end.first().isContiguous()).as("vda records after %s and %s", outcomes, deletes).isTrue();
            assertThat(end.second().isContiguous()).isTrue();
            for (Path p : tops.values()) {
                assertThat(QemuImg.check(p).exitCode()).isZero();
            }
        }
    }

    @Test
    void qemuDyingBeforeEveryStepOfALiveCreateOrDeleteLeavesTheFilesConsistent() throws Exception {
        try (LiveDomain d = LiveDomain.define(dir, "k", 1)) {
            for (String op : List.of("create", "delete")) {
                for (int step = 1; step < 30; step++) {
                    // Only QEMU's block layer takes part (no agent): the guest need not have booted,
                    // and not waiting for it saves a boot per step. The end checks a full boot.
                    d.start();
                    if (op.equals("delete")) {
                        ok("snapshot-create-as", "k", "z", "--disk-only");
                    }
                    long pid = d.pid();
                    if (!LiveDomain.crashedAt(step, op.equals("create") ? new String[] {"snapshot-create-as", "k", "z", "--disk-only"}
                            : new String[] {"snapshot-delete", "k", "z"})) {
                        ok("destroy", "k");
                        if (op.equals("create")) {
                            ok("snapshot-delete", "k", "z");
                        }
                        break; // every step had its turn
                    }
                    ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
                    d.awaitState("shut off (crashed)", Duration.ofSeconds(30));
                    ok("snapshot-list", "k"); // the next command finishes or undoes the plan without QEMU
                    assertThat(d.home.resolve("k").resolve("journal")).as("%s, QEMU killed at step %d", op, step)
                            .doesNotExist();
                    for (Path p : metadataTops("k").values()) {
                        assertThat(QemuImg.check(p).exitCode()).as("%s after %s at step %d", p, op, step).isZero();
                    }
                    if (ok("snapshot-list", "k", "--name").contains("z")) {
                        ok("snapshot-delete", "k", "z");
                    }
                }
            }
            d.startAndAwaitReady(); // and it still boots and writes
            d.awaitSerial(d.logSize(), "COUNTER");
        }
    }

    @Test
    void anAgentThatStopsAnsweringAfterThePingGetsTheGuestThawedAndNothingChanges() throws Exception {
        System.setProperty("vmsnap.freezeLimitMillis", "3000");
        try (LiveDomain d = LiveDomain.define(dir, "h", 2)) {
            d.startAndAwaitReady();
            d.awaitSerial(0, TestGuest.SECOND_DISK_LINE);
            Map<String, Path> before = metadataTops("h");
            // Between the agent's ping and the freeze the guest stops (its CPUs, from another monitor).
            CrashPoint.armAction(5, () -> {
                try (QmpClient q = QmpClient.connect(d.runDir().resolve("status.sock"), Duration.ofSeconds(10))) {
                    q.execute("stop", null, Duration.ofSeconds(10));
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            String err;
            try {
                err = fails("snapshot-create-as", "h", "x", "--disk-only", "--quiesce");
            } finally {
                CrashPoint.armAction(0, null);
            }
            assertThat(err).contains("did not finish freezing the guest's filesystems within 3 s")
                    .contains("the next vmsnap command on the domain thaws it");
            ok("resume", "h"); // the next command: the agent gets its queued freeze, then the thaw
            assertThat(freezeStatus(d)).isEqualTo("thawed");
            assertThat(ok("snapshot-list", "h", "--name")).isEqualTo("\n");
            assertThat(metadataTops("h")).isEqualTo(before);
            assertThat(qemuTops(d)).isEqualTo(before);
            d.awaitSerial(d.logSize(), "COUNTER");
        } finally {
            System.clearProperty("vmsnap.freezeLimitMillis");
        }
    }

    @Test
    void badInputAndAFullDiskChangeNothing() throws Exception {
        try (LiveDomain d = LiveDomain.define(dir, "b", 2)) {
            d.startAndAwaitReady();
            Map<String, Path> before = metadataTops("b");
            Path existing = Files.writeString(dir.resolve("taken.qcow2"), "someone's file\n");
            assertThat(fails("snapshot-create-as", "b", "x", "--disk-only", "--diskspec",
                    "vdb,file=" + existing)).contains("already exists");
            assertThat(existing).hasContent("someone's file\n");

            Path small = Files.createDirectories(dir.resolve("small"));
            mount(small);
            try {
                String err = fails("snapshot-create-as", "b", "x", "--disk-only", "--diskspec",
                        "vdb,file=" + small.resolve("x.qcow2"));
                assertThat(err).contains("No space left on device").contains("nothing was changed");
                try (var files = Files.list(small)) {
                    assertThat(files).as("nothing left on the full disk").isEmpty();
                }
            } finally {
                umount(small);
            }
            assertThat(metadataTops("b")).isEqualTo(before);
            assertThat(qemuTops(d)).isEqualTo(before);
            try (var files = Files.list(dir)) {
                assertThat(files.map(p -> p.getFileName().toString())).noneMatch(n -> n.endsWith(".x"));
            }

            // Two commands at once on the running domain: they run one after the other, and a
            // listing answers meanwhile.
            ExecutorService pool = Executors.newFixedThreadPool(3);
            try {
                Future<Cli.Run> a = pool.submit(() -> Cli.run("snapshot-create-as", "b", "c1", "--disk-only"));
                Future<Cli.Run> b = pool.submit(() -> Cli.run("snapshot-create-as", "b", "c2", "--disk-only"));
                Future<Cli.Run> l = pool.submit(() -> Cli.run("list"));
                assertThat(a.get().exitCode()).as(a.get().err()).isZero();
                assertThat(b.get().exitCode()).as(b.get().err()).isZero();
                assertThat(l.get().out()).contains(" b      running");
            } finally {
                pool.shutdown();
            }
            assertThat(ok("snapshot-list", "b", "--name").lines().filter(s -> !s.isEmpty()).toList())
                    .containsExactlyInAnyOrder("c1", "c2");
            assertThat(qemuTops(d)).isEqualTo(metadataTops("b"));
            ok("destroy", "b");

            Path xml = dir.resolve("u.xml");
            Files.writeString(xml, TestGuest.get().domainXml("u", List.of(d.disks.getFirst()), dir.resolve("u.log"))
                    .replace("</devices>", "<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='0'"
                            + " slot='9' function='0'/></source></hostdev></devices>"));
            ok("define", xml.toString());
            assertThat(fails("start", "u")).startsWith("vmsnap: Failed to start domain 'u': ").contains("hostdev");
            assertThat(LiveDomain.qemusUnder(dir)).isEmpty();
            assertThat(new DomainService(d.home).status("u").active()).isFalse();
        }
    }

    private static void mount(Path dir) throws Exception {
        Process p = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", dir.toString())
                .redirectErrorStream(true).start();
        assertThat(p.waitFor()).as("mount a 96 KiB tmpfs (the tests run as root): %s",
                new String(p.getInputStream().readAllBytes())).isZero();
    }

    private static void umount(Path dir) throws Exception {
        new ProcessBuilder("umount", dir.toString()).start().waitFor();
    }
}
