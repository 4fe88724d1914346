package org.vmsnap.qmp;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.vmsnap.qmp.hw.AgentChannel;
import org.vmsnap.qmp.hw.BlockLayer;
import org.vmsnap.qmp.hw.Disk;
import org.vmsnap.qmp.hw.DiskTuning;
import org.vmsnap.qmp.hw.Lifecycle;
import org.vmsnap.qmp.hw.Serial;
import org.vmsnap.testkit.TestGuest;

/** Starting the test guest under QEMU, and checking that nothing is left running. */
final class LiveGuests {

    /** Generous for 2 shared cores under TCG, where a boot takes 6-10 s. */
    static final Duration BOOT = Duration.ofSeconds(90);
    static final Duration QMP = Duration.ofSeconds(30);

    private LiveGuests() {
    }

    /** VMSNAP_TEST_ACCEL=tcg|kvm forces an accelerator (e.g. to try TCG where KVM exists). */
    static VmSpec.Accel accel() {
        String forced = System.getenv("VMSNAP_TEST_ACCEL");
        return forced == null || forced.isBlank() ? VmSpec.Accel.AUTO : VmSpec.Accel.valueOf(forced.toUpperCase());
    }

    /**
     * The test guest: direct kernel boot, the disks on virtio in order (the first is its data
     * disk), the agent in the run folder, the serial console in the run folder's log, and a
     * guest reboot (a kernel panic, with {@code panic=-1}) ends QEMU.
     */
    static VmSpec spec(String name, int memoryMiB, String extraKernelArgs, List<Disk> disks) {
        TestGuest guest = TestGuest.get();
        String args = TestGuest.KERNEL_ARGS + (extraKernelArgs.isEmpty() ? "" : " " + extraKernelArgs);
        return VmSpec.builder(name).memoryMiB(memoryMiB).kernel(guest.kernel(), guest.initrd(), args).disks(disks)
                .accel(accel()).lifecycle(Lifecycle.NO_REBOOT).serial(new Serial(0, new Serial.RunLog()))
                .agent(AgentChannel.IN_RUN_FOLDER).build();
    }

    /** A writable qcow2 virtio disk whose format node is {@code node} over the file node {@code node-file}. */
    static Disk disk(String node, Path qcow2) {
        return new Disk("vd" + node, Disk.Bus.VIRTIO, Disk.Media.DISK, false, DiskTuning.DEFAULT,
                List.of(new BlockLayer(qcow2, BlockLayer.Format.QCOW2, node, node + "-file")), null, null, null, null);
    }

    /** Starts QEMU and waits until the guest's writer runs; kills QEMU if that fails. */
    static QemuProcess startAndAwaitReady(VmSpec spec, Path runDir) throws IOException {
        QemuProcess qemu = QemuProcess.start(spec, runDir, QMP);
        try {
            TestGuest.awaitSerial(qemu.runFolder().serialLog(), 0, TestGuest.READY_LINE, BOOT);
            return qemu;
        } catch (RuntimeException | Error e) {
            qemu.kill();
            throw e;
        }
    }

    /** Waits until the guest printed {@code count} more counters after byte {@code from}. */
    static List<TestGuest.Counter> awaitCounters(Path serialLog, long from, int count) throws InterruptedException {
        long deadline = System.nanoTime() + BOOT.toNanos();
        while (true) {
            List<TestGuest.Counter> counters = TestGuest.counters(TestGuest.readFrom(serialLog, from));
            if (counters.size() >= count) {
                return counters;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the guest printed " + counters.size() + " of " + count + " counters in " + BOOT
                        + "\n" + TestGuest.readFrom(serialLog, Math.max(0, from)));
            }
            Thread.sleep(100);
        }
    }

    static long size(Path file) throws IOException {
        return Files.exists(file) ? Files.size(file) : 0;
    }

    /** QEMU processes whose command line mentions {@code dir}: none may outlive a test class. */
    static List<Long> qemusUnder(Path dir) {
        List<Long> found = new ArrayList<>();
        ProcessHandle.allProcesses().filter(ProcessHandle::isAlive).forEach(p -> {
            try {
                String cmdline = new String(Files.readAllBytes(Path.of("/proc", Long.toString(p.pid()), "cmdline")),
                        StandardCharsets.UTF_8);
                if (cmdline.contains("qemu-system") && cmdline.contains(dir.toAbsolutePath().toString())) {
                    found.add(p.pid());
                }
            } catch (IOException ignored) {
                // the process ended meanwhile
            }
        });
        return found;
    }

    static void assertNothingLeft(Path dir) throws InterruptedException {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (!qemusUnder(dir).isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertThat(qemusUnder(dir)).as("QEMU processes left behind").isEmpty();
        Leaks.assertNoVmsnapThreads();
    }
}
