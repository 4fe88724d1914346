package org.vmsnap.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A private libvirt 9.0 runs the test guest from {@link TestGuest#domainXml}: define, start,
 * guest agent, an atomic disk-only snapshot of both disks (crash-consistent, then quiesced),
 * destroy, undefine; it touches none of the host's libvirt folders, two instances run the same
 * domain side by side, a daemon that cannot start says why, and nothing outlives close().
 */
class LibvirtIT {

    private static final Duration BOOT = Duration.ofSeconds(120);
    private static final List<Path> HOST_FOLDERS = List.of(Path.of("/etc/libvirt"), Path.of("/run/libvirt"),
            Path.of("/var/lib/libvirt"), Path.of("/var/log/libvirt"), Path.of("/var/cache/libvirt"));

    private static final Pattern FILENAME = Pattern.compile("\"filename\":\"([^\"]+)\"");

    @TempDir
    Path dir;

    @Test
    void runsTheGuest_snapshotsBothDisksAtomically_andLeavesNothingBehind() throws Exception {
        Map<String, String> hostBefore = fingerprint(HOST_FOLDERS);
        TestGuest guest = TestGuest.get();
        Path vda = dir.resolve("vda.qcow2");
        Path vdb = dir.resolve("vdb.qcow2");
        TestGuest.createDataDisk(vda, 32);
        TestGuest.createDataDisk(vdb, 32);
        Path serial = dir.resolve("serial.log");
        Path xml = dir.resolve("guest.xml");
        Files.writeString(xml, guest.domainXml("vmsnap-guest", List.of(vda, vdb), serial));

        long t0 = System.nanoTime();
        Libvirt libvirt = Libvirt.start(dir.resolve("libvirt"));
        long daemonStart = System.nanoTime() - t0;
        List<ProcessHandle> whileRunning;
        long guestReady;
        long crashConsistent;
        long quiesced;
        try (libvirt) {
            assertThat(libvirt.uri()).isEqualTo("qemu:///system?socket=" + dir.resolve("libvirt/run/libvirt-sock"));
            assertThat(libvirt.virshOk("version").stdout()).contains("Using library: libvirt 9.0.0", "QEMU 7.2");
            libvirt.virshOk("define", xml.toString());
            long t1 = System.nanoTime();
            libvirt.virshOk("start", "vmsnap-guest");
            String boot = TestGuest.awaitSerial(serial, 0, TestGuest.READY_LINE, BOOT);
            guestReady = System.nanoTime() - t1;
            assertThat(boot).contains(TestGuest.SECOND_DISK_LINE);
            assertThat(libvirt.virshOk("domstate", "--reason", "vmsnap-guest").stdout().strip()).isEqualTo("running (booted)");

            assertThat(agentCommand(libvirt, "{\"execute\":\"guest-fsfreeze-status\"}")).isEqualTo("{\"return\":\"thawed\"}");
            String fsinfo = libvirt.virshOk("domfsinfo", "vmsnap-guest").stdout();
            assertThat(fsinfo.lines().map(String::strip).filter(l -> l.matches("/data2? .*"))
                    .map(l -> String.join(" ", l.split("\\s+")))).containsExactlyInAnyOrder("/data vda ext4 vda", "/data2 vdb ext4 vdb");
            awaitCounters(serial, 5);

            long t2 = System.nanoTime();
            libvirt.virshOk("snapshot-create-as", "vmsnap-guest", "s1", "--disk-only", "--atomic",
                    "--diskspec", "vda,file=" + dir.resolve("vda.s1"), "--diskspec", "vdb,file=" + dir.resolve("vdb.s1"));
            crashConsistent = System.nanoTime() - t2;
            awaitCounters(serial, 5);
            long t3 = System.nanoTime();
            libvirt.virshOk("snapshot-create-as", "vmsnap-guest", "s2", "--disk-only", "--atomic", "--quiesce",
                    "--diskspec", "vda,file=" + dir.resolve("vda.s2"), "--diskspec", "vdb,file=" + dir.resolve("vdb.s2"));
            quiesced = System.nanoTime() - t3;
            assertThat(libvirt.virshOk("snapshot-list", "--name", "vmsnap-guest").stdout().strip().lines()).containsExactly("s1", "s2");
            assertThat(libvirt.virshOk("domblklist", "vmsnap-guest").stdout())
                    .contains("vda      " + dir.resolve("vda.s2"), "vdb      " + dir.resolve("vdb.s2"));

            whileRunning = libvirt.processes();
            assertThat(whileRunning.stream().map(p -> p.info().command().orElse("")))
                    .contains("/usr/sbin/libvirtd", "/usr/bin/qemu-system-x86_64");
            libvirt.virshOk("destroy", "vmsnap-guest");
            assertThat(libvirt.virshOk("domstate", "--reason", "vmsnap-guest").stdout().strip()).isEqualTo("shut off (destroyed)");
            libvirt.virshOk("undefine", "--snapshots-metadata", "vmsnap-guest");
            assertThat(libvirt.virshOk("list", "--all", "--name").stdout().strip()).isEmpty();
        }
        assertThat(libvirt.processes()).isEmpty();
        assertThat(whileRunning).noneMatch(ProcessHandle::isAlive);
        assertThat(fingerprint(HOST_FOLDERS)).as("the host's libvirt folders").isEqualTo(hostBefore);

        // s1 froze vda/vdb while the guest wrote: crash-consistent, yet one instant for both disks.
        TestGuest.DiskPair s1 = TestGuest.readDiskPair(vda, vdb, "qcow2");
        assertThat(s1.first().last()).isPositive();
        assertThat(s1.inLockstep()).as("s1: %d and %d records", s1.first().last(), s1.second().last()).isTrue();
        assertThat(TestGuest.needsRecovery(vda, "qcow2")).isTrue();
        assertThat(TestGuest.needsRecovery(vdb, "qcow2")).isTrue();
        // s2 froze vda.s1/vdb.s1 while the agent had the file systems frozen: clean as they are.
        for (Path frozen : List.of(dir.resolve("vda.s1"), dir.resolve("vdb.s1"))) {
            TestGuest.Fsck fsck = TestGuest.fsck(frozen, "qcow2");
            assertThat(fsck.clean()).as(frozen + "\n" + fsck.output()).isTrue();
            assertThat(TestGuest.needsRecovery(frozen, "qcow2")).as(frozen.toString()).isFalse();
        }
        TestGuest.DiskPair s2 = TestGuest.readDiskPair(dir.resolve("vda.s1"), dir.resolve("vdb.s1"), "qcow2");
        assertThat(s2.first().isContiguous()).isTrue();
        assertThat(s2.second().isContiguous()).isTrue();
        assertThat(s2.inLockstep()).isTrue();
        assertThat(s2.first().last()).isGreaterThan(s1.first().last());

        System.out.printf("LibvirtIT timings: libvirtd start %d ms, virsh start to guest ready %d ms, "
                        + "snapshot-create-as --disk-only --atomic of 2 disks %d ms, the same with --quiesce %d ms%n",
                daemonStart / 1_000_000, guestReady / 1_000_000, crashConsistent / 1_000_000, quiesced / 1_000_000);
    }

    @Test
    void twoInstancesRunADomainOfTheSameNameSideBySide() throws Exception {
        TestGuest guest = TestGuest.get();
        Path diskA = dir.resolve("a.qcow2");
        Path diskB = dir.resolve("b.qcow2");
        TestGuest.createDataDisk(diskA, 16);
        TestGuest.createDataDisk(diskB, 16);
        Files.writeString(dir.resolve("a.xml"), guest.domainXml("twin", List.of(diskA), dir.resolve("a.log")));
        Files.writeString(dir.resolve("b.xml"), guest.domainXml("twin", List.of(diskB), dir.resolve("b.log")));
        List<ProcessHandle> processesOfA;
        try (Libvirt a = Libvirt.start(dir.resolve("lv-a")); Libvirt b = Libvirt.start(dir.resolve("lv-b"))) {
            assertThat(a.uri()).isNotEqualTo(b.uri());
            assertThatThrownBy(() -> Libvirt.start(dir.resolve("lv-a")))
                    .isInstanceOf(AssertionError.class).hasMessageContaining("another private libvirt runs in");
            a.virshOk("define", dir.resolve("a.xml").toString());
            assertThat(b.virshOk("list", "--all", "--name").stdout().strip()).as("b knows nothing of a's domain").isEmpty();
            b.virshOk("define", dir.resolve("b.xml").toString());
            a.virshOk("start", "twin");
            b.virshOk("start", "twin");
            // both are domain 1 "twin": same run file names, same agent socket path, inside each namespace
            assertThat(a.virshOk("domid", "twin").stdout().strip()).isEqualTo("1");
            assertThat(b.virshOk("domid", "twin").stdout().strip()).isEqualTo("1");
            assertThat(qemuDisks(a)).containsExactly(diskA.toString());
            assertThat(qemuDisks(b)).containsExactly(diskB.toString());
            processesOfA = a.processes();
            assertThat(processesOfA).doesNotContainAnyElementsOf(b.processes());

            a.virshOk("destroy", "twin");
            assertThat(b.virshOk("domstate", "twin").stdout().strip()).isEqualTo("running");
            a.close();
            assertThat(processesOfA).noneMatch(ProcessHandle::isAlive);
            assertThat(b.virshOk("domstate", "twin").stdout().strip()).as("b outlives a").isEqualTo("running");
            assertThat(qemuDisks(b)).containsExactly(diskB.toString());
        }
    }

    @Test
    void aDaemonThatCannotStartFailsTheTestAndSaysWhy() {
        Path work = dir.resolve("refused");
        assertThatThrownBy(() -> Libvirt.start(work, "swtpm_user = \"vmsnap-no-such-user\"\n"))
                .isInstanceOf(AssertionError.class)
                .hasMessageContaining("ended during start-up")
                .hasMessageContaining("Failed to parse user 'vmsnap-no-such-user'");
        assertThat(ProcessHandle.allProcesses().filter(p -> p.info().commandLine().orElse("").contains(work.toString())))
                .as("processes of the refused daemon").isEmpty();
    }

    @Test
    void aWorkFolderUnderAFolderTheNamespaceCoversIsRefused() {
        assertThatThrownBy(() -> Libvirt.start(Path.of("/run/vmsnap-libvirt-test")))
                .isInstanceOf(AssertionError.class).hasMessageContaining("lies under /run");
        assertThat(Path.of("/run/vmsnap-libvirt-test")).doesNotExist();
    }

    /** The files of the QEMUs this instance runs (from their command lines). */
    private static List<String> qemuDisks(Libvirt libvirt) {
        return libvirt.processes().stream()
                .filter(p -> p.info().command().orElse("").endsWith("qemu-system-x86_64"))
                .flatMap(p -> Stream.of(p.info().arguments().orElse(new String[0])))
                .flatMap(arg -> FILENAME.matcher(arg).results().map(m -> m.group(1)))
                .toList();
    }

    /** qemu-agent-command, retried while libvirt has not yet connected to the agent. */
    private static String agentCommand(Libvirt libvirt, String json) throws InterruptedException {
        long deadline = System.nanoTime() + BOOT.toNanos();
        while (true) {
            QemuTools.Result r = libvirt.virsh("qemu-agent-command", "vmsnap-guest", json);
            if (r.exitCode() == 0) {
                return r.stdout().strip();
            }
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError(r.describe("kept failing"));
            }
            Thread.sleep(500);
        }
    }

    /** Waits until the serial log holds {@code more} counters beyond those it holds now. */
    private static void awaitCounters(Path serial, int more) throws InterruptedException {
        int now = TestGuest.counters(TestGuest.readFrom(serial, 0)).size();
        long deadline = System.nanoTime() + BOOT.toNanos();
        while (TestGuest.counters(TestGuest.readFrom(serial, 0)).size() < now + more) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("the guest printed no " + more + " more counters in " + BOOT);
            }
            Thread.sleep(100);
        }
    }

    /** Every file and folder under {@code roots} with its size and modification time ("absent" for a missing root). */
    private static Map<String, String> fingerprint(List<Path> roots) throws IOException {
        Map<String, String> out = new TreeMap<>();
        for (Path root : roots) {
            if (!Files.exists(root)) {
                out.put(root.toString(), "absent");
                continue;
            }
            try (Stream<Path> tree = Files.walk(root)) {
                for (Path p : tree.toList()) {
                    out.put(p.toString(), Files.size(p) + " " + Files.getLastModifiedTime(p));
                }
            }
        }
        return out;
    }
}
