package org.vmsnap.cli.live;

import static org.assertj.core.api.Assertions.assertThat;
import static org.vmsnap.cli.live.LiveDomain.ok;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.testkit.Libvirt;
import org.vmsnap.testkit.TestGuest;

/**
 * libvirt 9.0's save images come along: a real libvirtd runs the test guest and {@code virsh save}s
 * it (raw, and with qemu.conf's save_image_format xz and lzop); {@code vmsnap restore} of that file
 * continues the guest (same boot id, the next counters), and save-image-dumpxml reads it.
 */
class LibvirtSaveIT {
    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"raw", "xz", "lzop"})
    void vmsnapRestoresWhatVirshSaved(String format) throws Exception {
        Path disk = dir.resolve("vda.qcow2");
        TestGuest.createDataDisk(disk, 32);
        Path serial = dir.resolve("serial.log");
        Path xml = dir.resolve("guest.xml");
        Files.writeString(xml, TestGuest.get().domainXml("lvs", List.of(disk), serial));
        Path image = dir.resolve("lvs.save");
        TestGuest.Counter saved;
        try (Libvirt libvirt = Libvirt.start(dir.resolve("libvirt"), "\nsave_image_format = \"" + format + "\"\n")) {
            libvirt.virshOk("define", xml.toString());
            libvirt.virshOk("start", "lvs");
            TestGuest.awaitSerial(serial, 0, "COUNTER", Duration.ofSeconds(120));
            libvirt.virshOk("save", "lvs", image.toString());
            saved = TestGuest.counters(TestGuest.readFrom(serial, 0)).getLast();
            libvirt.virshOk("undefine", "lvs");
        }
        System.setProperty("vmsnap.home", dir.resolve("home").toString());
        try {
            assertThat(ok("save-image-dumpxml", image.toString())).contains("<name>lvs</name>");
            assertThat(ok("restore", image.toString())).isEqualTo("Domain restored from " + image + "\n\n");
            long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
            TestGuest.Counter last = saved;
            while (System.nanoTime() < deadline && last.n() <= saved.n() + 2) {
                List<TestGuest.Counter> all = TestGuest.counters(TestGuest.readFrom(serial, 0));
                last = all.isEmpty() ? saved : all.getLast();
                Thread.sleep(200);
            }
            assertThat(last.boot()).as("no boot: libvirt's saved memory was restored").isEqualTo(saved.boot());
            assertThat(last.n()).isGreaterThan(saved.n() + 2);
            ok("destroy", "lvs");
        } finally {
            org.vmsnap.cli.Cli.run("destroy", "lvs");
            System.clearProperty("vmsnap.home");
        }
        assertThat(LiveDomain.qemusUnder(dir)).isEmpty();
    }
}
