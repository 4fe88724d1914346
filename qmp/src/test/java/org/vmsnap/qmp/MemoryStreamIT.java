package org.vmsnap.qmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.testkit.TestGuest;

/**
 * Memory save through vmsnap's zstd stream and restore into a fresh QEMU: the guest's
 * in-memory counter continues (same boot id, next number), and the data disk holds one
 * unbroken run of records across the save and restore.
 */
class MemoryStreamIT {

    private static final Duration T = LiveGuests.QMP;
    private static final Duration MIGRATION = Duration.ofMinutes(3);

    @TempDir
    Path dir;

    private final List<QemuProcess> started = new ArrayList<>();

    @AfterEach
    void nothingLeft() throws Exception {
        for (QemuProcess qemu : started) {
            if (qemu.isAlive()) {
                qemu.kill();
            }
            qemu.close();
        }
        LiveGuests.assertNothingLeft(dir);
    }

    @Test
    void aRestoredGuestContinuesItsCounterWhereTheSaveLeftIt() throws Exception {
        Path data = dir.resolve("data.qcow2");
        TestGuest.createDataDisk(data, 64);
        VmSpec spec = LiveGuests.spec("mem", 256, "", List.of(LiveGuests.disk("data", data)));

        QemuProcess a = LiveGuests.startAndAwaitReady(spec, dir.resolve("a"));
        started.add(a);
        LiveGuests.awaitCounters(a.runFolder().serialLog(), 0, 3);
        Path memory = dir.resolve("state.vmsnap-mem");
        // a user's file that happens to have the name an older vmsnap used for its partial stream
        Path users = Files.writeString(dir.resolve("state.vmsnap-mem.partial"), "the user's own file");
        MemoryStream.Figures saved = MemoryStream.save(a.qmp(), a.runFolder().dir(), memory, "<domain/>", true,
                MemoryFileWriter.defaultCompression(), MIGRATION);
        assertThat(users).hasContent("the user's own file");
        Files.delete(users);
        // an existing target is refused before QEMU is asked for anything, and left as it is
        byte[] savedBytes = Files.readAllBytes(memory);
        assertThatThrownBy(() -> MemoryStream.save(a.qmp(), a.runFolder().dir(), memory, "<domain/>", true,
                MemoryFileWriter.defaultCompression(), MIGRATION)).isInstanceOf(java.nio.file.FileAlreadyExistsException.class)
                .hasMessageContaining("state.vmsnap-mem");
        assertThat(Files.readAllBytes(memory)).isEqualTo(savedBytes);
        assertThat(a.qmp().execute("query-status", null, T).path("status").asText()).isEqualTo("postmigrate");
        assertThat(saved.streamBytes()).isGreaterThan(1L << 20);
        assertThat(saved.fileBytes()).isEqualTo(Files.size(memory)).isLessThan(saved.streamBytes());
        try (var left = Files.list(dir)) {
            assertThat(left.map(p -> p.getFileName().toString())).as("no partial stream left")
                    .noneMatch(n -> n.startsWith(".vmsnap-partial-"));
        }
        assertThat(Files.getPosixFilePermissions(memory)).as("mode of the memory file (the guest's RAM)")
                .containsExactlyInAnyOrder(java.nio.file.attribute.PosixFilePermission.OWNER_READ,
                        java.nio.file.attribute.PosixFilePermission.OWNER_WRITE);
        List<TestGuest.Counter> before = TestGuest.counters(TestGuest.readFrom(a.runFolder().serialLog(), 0));
        TestGuest.Counter last = before.getLast();
        assertThat(a.quit()).isEqualTo(QemuProcess.Stopped.QUIT);

        // a file cut short (a full disk during the save, a copy that stopped) is refused by the
        // check before any QEMU is given a byte of it
        Path cut = dir.resolve("cut.vmsnap-mem");
        try (var in = java.nio.channels.FileChannel.open(memory);
             var out = java.nio.channels.FileChannel.open(cut, java.nio.file.StandardOpenOption.CREATE_NEW,
                     java.nio.file.StandardOpenOption.WRITE)) {
            in.transferTo(0, Files.size(memory) / 2, out);
        }
        assertThatThrownBy(() -> MemoryFile.verify(cut)).isInstanceOf(MemoryFile.BadMemoryFileException.class)
                .hasMessageContaining("cut.vmsnap-mem").hasMessageContaining("cut short");

        QemuProcess b = QemuProcess.startIncoming(spec, dir.resolve("b"), T);
        started.add(b);
        // a file that is not a memory file is refused before QEMU sees a byte of it
        Path bogus = Files.writeString(dir.resolve("bogus"), "definitely not a memory file");
        assertThatThrownBy(() -> MemoryFile.verify(bogus))
                .hasMessageContaining("not a vmsnap memory file").hasMessageContaining("bogus");
        MemoryStream.Figures restored = MemoryStream.restore(b.qmp(), b.runFolder().dir(), MemoryFile.verify(memory), MIGRATION);
        assertThat(restored.streamBytes()).isEqualTo(saved.streamBytes());
        assertThat(b.qmp().execute("query-status", null, T).path("status").asText()).isEqualTo("paused");
        b.qmp().execute("cont", null, T);

        List<TestGuest.Counter> after = LiveGuests.awaitCounters(b.runFolder().serialLog(), 0, 3);
        String serialB = TestGuest.readFrom(b.runFolder().serialLog(), 0);
        assertThat(serialB).as("no boot: the memory was restored").doesNotContain("vmsnap-guest: init started");
        assertThat(after).allSatisfy(c -> assertThat(c.boot()).isEqualTo(last.boot()));
        // the line being printed at the save may be cut in two between the logs: then the
        // first complete line is one further on
        assertThat(after.getFirst().n()).isBetween(last.n() + 1, last.n() + 2);
        for (int i = 1; i < after.size(); i++) {
            assertThat(after.get(i).n()).isEqualTo(after.get(i - 1).n() + 1);
        }

        assertThat(b.stop(Duration.ofSeconds(60))).isEqualTo(QemuProcess.Stopped.POWERED_OFF);
        List<TestGuest.Counter> printed = TestGuest.counters(TestGuest.readFrom(b.runFolder().serialLog(), 0));
        TestGuest.Records records = TestGuest.readRecords(data, "qcow2");
        assertThat(records.invalid()).isEmpty();
        assertThat(records.valid()).allSatisfy(r -> assertThat(r.boot()).isEqualTo(last.boot()));
        for (int i = 0; i < records.valid().size(); i++) {
            assertThat(records.valid().get(i).n()).as("record %d: one unbroken run across save and restore", i)
                    .isEqualTo(i + 1);
        }
        assertThat(records.last()).isGreaterThanOrEqualTo(printed.getLast().n());
    }

    @Test
    void aDamagedStreamIsRejectedByQemuAndReported() throws Exception {
        Path data = dir.resolve("data.qcow2");
        TestGuest.createDataDisk(data, 16);
        VmSpec spec = LiveGuests.spec("cut", 128, "", List.of(LiveGuests.disk("data", data)));
        // a valid memory file around bytes that are not a migration stream
        Path bogusStream = dir.resolve("garbage.vmsnap-mem");
        Path partial = MemoryFileWriter.partialFor(bogusStream);
        try (MemoryFileWriter w = MemoryFileWriter.create(bogusStream, partial, "<domain/>", true,
                MemoryFileWriter.defaultCompression())) {
            w.write(new byte[1 << 20], 0, 1 << 20);
            w.finish();
            w.publish();
            MemoryFileWriter.dropPartial(partial);
        }

        QemuProcess c = QemuProcess.startIncoming(spec, dir.resolve("c"), T);
        started.add(c);
        assertThatThrownBy(() -> MemoryStream.restore(c.qmp(), c.runFolder().dir(), MemoryFile.verify(bogusStream), MIGRATION))
                .isInstanceOfSatisfying(QmpCommandException.class, e -> assertThat(e.errorClass()).isEqualTo("MigrationFailed"))
                .hasMessageContaining("QEMU stopped reading").hasMessageContaining("garbage.vmsnap-mem");
        c.kill();
    }
}
