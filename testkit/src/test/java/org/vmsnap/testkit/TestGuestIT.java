package org.vmsnap.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The test guest builds (or comes from the cache) with everything its init needs. */
class TestGuestIT {

    @TempDir
    Path dir;

    @Test
    void theGuestHoldsKernelInitAgentAndModules() throws Exception {
        TestGuest guest = TestGuest.get();
        assertThat(guest.dir()).startsWith(TestGuest.cacheRoot());
        assertThat(Files.size(guest.kernel())).isGreaterThan(1 << 20);
        String manifest = Files.readString(guest.dir().resolve("manifest"));
        assertThat(manifest).contains("kernel_package=linux-image-").contains("virtio_pci").contains("virtio_console")
                .contains("ext4").contains("crc32c_generic");
        String listing = QemuTools.run(List.of("bash", "-c", "busybox cpio -t < '" + guest.initrd() + "'"))
                .requireSuccess().stdout();
        assertThat(listing.lines()).contains("init", "bin/writer", "bin/busybox", "usr/sbin/qemu-ga", "data", "data2",
                "lib/modules/virtio_blk.ko", "etc/modules.list", "etc/acpi/PWRF/00000080");
        assertThat(TestGuest.get()).as("built once per JVM").isSameAs(guest);
    }

    @Test
    void aNewDataDiskIsAnEmptyExt4Qcow2() {
        Path disk = dir.resolve("data.qcow2");
        TestGuest.createDataDisk(disk, 32);
        assertThat(QemuImg.infoJson(disk).path("format").asText()).isEqualTo("qcow2");
        TestGuest.Records records = TestGuest.readRecords(disk, "qcow2");
        assertThat(records.valid()).isEmpty();
        assertThat(records.last()).isZero();
    }

    @Test
    void recordChecksumsAreTheGuestsMd5sumPrefix() {
        String body = "REC 17 0a1b2c3d";
        String guestSide = QemuTools.run(List.of("bash", "-c", "echo -n '" + body + "' | busybox md5sum | cut -c1-8"))
                .requireSuccess().stdout().strip();
        assertThat(TestGuest.md5Prefix(body)).isEqualTo(guestSide);
    }

    @Test
    void countersAreParsedFromCompleteSerialLines() {
        // The guest's boot id is 4 random bytes in hex; a line cut short (here "boot=4") is no counter.
        String serial = "vmsnap-guest: writer started\r\nCOUNTER 1 boot=ab12cd34\r\nCOUNTER 2 boot=ab12cd34\r\n"
                + "COUNTER 3 boot=4\r\nCOUNT";
        assertThat(TestGuest.counters(serial)).containsExactly(
                new TestGuest.Counter(1, "ab12cd34"), new TestGuest.Counter(2, "ab12cd34"));
    }
}
