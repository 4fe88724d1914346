package org.vmsnap.cli.live;

import static org.assertj.core.api.Assertions.assertThat;
import static org.vmsnap.cli.live.LiveDomain.fails;
import static org.vmsnap.cli.live.LiveDomain.ok;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.testkit.TestGuest;

/**
 * vmsnap attach: a QEMU a script started (its own -drive/-device, QMP and agent sockets) becomes
 * a domain, and every snapshot verb works on it; vmsnap stops it only when asked.
 */
class AttachIT {
    @TempDir
    Path dir;

    @Test
    void aQemuVmsnapDidNotStartIsSnapshottedLiveAndLeftRunning() throws Exception {
        System.setProperty("vmsnap.home", dir.resolve("home").toString());
        Path a = dir.resolve("sys.qcow2");
        Path b = dir.resolve("data.qcow2");
        TestGuest.createDataDisk(a, 64);
        TestGuest.createDataDisk(b, 64);
        Path qmp = dir.resolve("qmp.sock");
        Path qga = dir.resolve("qga.sock");
        Path serial = dir.resolve("serial.log");
        TestGuest guest = TestGuest.get();
        Process qemu = new ProcessBuilder("qemu-system-x86_64", "-name", "scripted", "-nodefaults", "-display", "none",
                "-m", "256", "-accel", "tcg", "-kernel", guest.kernel().toString(), "-initrd", guest.initrd().toString(),
                "-append", TestGuest.KERNEL_ARGS,
                "-drive", "file=" + a + ",format=qcow2,if=none,id=drive0", "-device", "virtio-blk-pci,drive=drive0,id=sysdisk",
                "-drive", "file=" + b + ",format=qcow2,if=none,id=drive1", "-device", "virtio-blk-pci,drive=drive1,id=vdb",
                "-chardev", "socket,id=qga,path=" + qga + ",server=on,wait=off", "-device", "virtio-serial-pci",
                "-device", "virtserialport,chardev=qga,name=org.qemu.guest_agent.0",
                "-qmp", "unix:" + qmp + ",server=on,wait=off", "-serial", "file:" + serial)
                .redirectOutput(new File("/dev/null")).redirectErrorStream(true).start();
        try {
            TestGuest.awaitSerial(serial, 0, TestGuest.READY_LINE, LiveDomain.BOOT);
            assertThat(ok("attach", "scripted", "--qmp", qmp.toString(), "--agent", qga.toString()))
                    .isEqualTo("Domain 'scripted' attached to the running QEMU at " + qmp + "\n\n");
            assertThat(ok("domstate", "scripted")).isEqualTo("running\n\n");
            // libvirt's taint for a QEMU it did not launch (qemu-attach), after any other (root: high-privileges)
            assertThat(ok("dominfo", "scripted")).containsPattern(
                    "\nMessages: {7}(tainted: running with undesirable elevated privileges\n {16})?"
                            + "tainted: managing externally launched configuration\n\n$");
            assertThat(ok("domblklist", "scripted")).containsPattern(" vda +" + java.util.regex.Pattern.quote(a.toString()) + "\n")
                    .containsPattern(" vdb +" + java.util.regex.Pattern.quote(b.toString()) + "\n");
            ok("snapshot-create-as", "scripted", "s1", "--disk-only", "--quiesce", "--atomic");
            TestGuest.DiskPair pair = TestGuest.readDiskPair(a, b, "qcow2");
            assertThat(TestGuest.needsRecovery(a, "qcow2")).isFalse();
            assertThat(pair.inLockstep()).isTrue();
            ok("snapshot-create-as", "scripted", "s2", "--disk-only", "--diskspec", "vda,snapshot=internal",
                    "--diskspec", "vdb,snapshot=external");
            ok("snapshot-delete", "scripted", "s1");
            ok("snapshot-delete", "scripted", "s2");
            assertThat(ok("snapshot-list", "scripted", "--name")).isEqualTo("\n");
            assertThat(qemu.isAlive()).as("vmsnap does not stop a QEMU it did not start").isTrue();
            assertThat(fails("undefine", "scripted")).contains("destroy it or shut it down first");
            assertThat(ok("destroy", "scripted")).isEqualTo("Domain 'scripted' destroyed\n\n");
            assertThat(qemu.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            assertThat(ok("domstate", "scripted", "--reason")).isEqualTo("shut off (destroyed)\n\n");
            List<String> tops = ok("domblklist", "scripted").lines().skip(2).filter(l -> !l.isBlank())
                    .map(l -> l.strip().split("\\s+", 2)[1]).toList();
            TestGuest.DiskPair end = TestGuest.readDiskPair(Path.of(tops.get(0)), Path.of(tops.get(1)), "qcow2");
            assertThat(end.first().isContiguous()).isTrue();
            assertThat(end.second().isContiguous()).isTrue();
            try (var files = Files.list(dir)) {
                // vda's overlay stays its image (the user's sys.qcow2 below is never merged into);
                // vdb's overlays were merged into data.qcow2 and are gone
                assertThat(files.filter(p -> !tops.contains(p.toString())).map(p -> p.getFileName().toString())
                        .filter(n -> n.endsWith(".s1") || n.endsWith(".s2"))).as("overlays left behind").isEmpty();
            }
            assertThat(tops).containsExactly(dir.resolve("sys.s1").toString(), b.toString());
            try (var ignored = Files.list(dir)) {
            }
        } finally {
            qemu.destroyForcibly();
            qemu.waitFor(30, java.util.concurrent.TimeUnit.SECONDS);
            System.clearProperty("vmsnap.home");
        }
    }
}
