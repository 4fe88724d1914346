package org.vmsnap.cli.live;

import static org.assertj.core.api.Assertions.assertThat;
import static org.vmsnap.cli.live.LiveDomain.fails;
import static org.vmsnap.cli.live.LiveDomain.ok;

import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.cli.Cli;
import org.vmsnap.testkit.TestGuest;

/**
 * save, restore and managedsave of the test guest through the command line. The oracle is the
 * guest itself: after a restore its in-memory counter goes on from the saved value with the same
 * boot id (no boot), and after the final shutdown its records on the data disk are one unbroken
 * run and e2fsck finds the file system clean. Bad files are refused before QEMU starts (the
 * domain stays shut off, no QEMU appears); vmsnap halted before each step of a save or restore
 * leaves the next command to finish or undo it, never a paused guest or a partial file.
 */
class MemorySaveIT {
    @TempDir
    Path dir;

    /** The last counter printed so far and the boot it belongs to. */
    private static TestGuest.Counter lastCounter(LiveDomain d) {
        return TestGuest.counters(TestGuest.readFrom(d.serialLog(), 0)).getLast();
    }

    /** The guest prints a counter after {@code from} that continues {@code saved} (same boot, next numbers). */
    private static void continuesFrom(LiveDomain d, long from, TestGuest.Counter saved) {
        List<TestGuest.Counter> after = d.awaitCounters(from);
        assertThat(after.getFirst().boot()).as("same boot: the memory was restored").isEqualTo(saved.boot());
        // the line being printed at the save may be cut between the logs: the first whole one is next or after
        assertThat(after.getFirst().n()).isBetween(saved.n() + 1, saved.n() + 2);
    }

    private static List<String> names(Path folder) throws Exception {
        try (Stream<Path> s = Files.list(folder)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    /** Bytes of {@code file} in the page cache now (util-linux's fincore). */
    private static long cachedBytes(Path file) throws Exception {
        Process p = new ProcessBuilder("fincore", "--bytes", "--noheadings", "--output", "RES", file.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes()).strip();
        assertThat(p.waitFor()).as("fincore: " + out).isZero();
        return Long.parseLong(out);
    }

    @Test
    void saveRestoreAndManagedSaveContinueTheGuest() throws Exception {
        Path out = Files.createDirectories(dir.resolve("out"));
        try (LiveDomain d = LiveDomain.define(dir, "ms", 1)) {
            d.startAndAwaitReady();
            d.awaitSerial(0, "COUNTER");
            Path file = out.resolve("ms.state");

            assertThat(ok("save", "ms", file.toString())).isEqualTo("\nDomain 'ms' saved to " + file + "\n\n");
            assertThat(cachedBytes(file)).as("without --bypass-cache the written file stays cached").isPositive();
            TestGuest.Counter saved = lastCounter(d);
            assertThat(ok("domstate", "ms", "--reason")).isEqualTo("shut off (saved)\n\n");
            assertThat(Files.getPosixFilePermissions(file)).isEqualTo(PosixFilePermissions.fromString("rw-------"));
            assertThat(names(out)).as("the memory file only, no partial file").containsExactly("ms.state");
            assertThat(ok("save-image-dumpxml", file.toString())).contains("<name>ms</name>");

            // A file cut short and a damaged one: one line each, refused before any QEMU starts.
            Path cut = out.resolve("cut.state");
            try (FileChannel in = FileChannel.open(file); FileChannel o = FileChannel.open(cut,
                    StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                in.transferTo(0, Files.size(file) - 1000, o);
            }
            assertThat(fails("restore", cut.toString())).startsWith("vmsnap: Failed to restore domain from " + cut)
                    .contains("cut short");
            byte[] bytes = Files.readAllBytes(file);
            bytes[bytes.length / 2] ^= 0x10;
            Path flipped = Files.write(out.resolve("flipped.state"), bytes);
            assertThat(fails("restore", flipped.toString())).contains("damaged").contains("flipped.state");
            assertThat(fails("restore", out.resolve("nothing-here").toString())).contains("No such file");
            assertThat(ok("domstate", "ms", "--reason")).isEqualTo("shut off (saved)\n\n");
            assertThat(LiveDomain.qemusUnder(dir)).as("no QEMU was started for a bad file").isEmpty();

            long from = d.logSize();
            assertThat(ok("restore", file.toString())).isEqualTo("Domain restored from " + file + "\n\n");
            assertThat(ok("domstate", "ms", "--reason")).isEqualTo("running (restored)\n\n");
            continuesFrom(d, from, saved);

            // An existing target is refused, and the guest keeps running.
            assertThat(fails("save", "ms", file.toString())).contains("file exists");
            assertThat(ok("domstate", "ms")).isEqualTo("running\n\n");

            // managedsave (with virsh's --verbose: the progress line on stderr, ending at 100 %):
            // start resumes from it and removes it.
            Cli.Run managedSave = Cli.run("managedsave", "ms", "--verbose", "--bypass-cache");
            assertThat(managedSave.exitCode()).as(managedSave.err()).isZero();
            assertThat(managedSave.out()).isEqualTo("\nDomain 'ms' state saved by libvirt\n\n");
            assertThat(managedSave.err()).endsWith("\rManagedsave: [100 %]").doesNotContain("\n");
            assertThat(cachedBytes(d.home.resolve("ms").resolve("managed.save"))).as("managedsave --bypass-cache")
                    .isZero();
            TestGuest.Counter managed = lastCounter(d);
            assertThat(ok("dominfo", "ms")).contains("Managed save:   yes\n");
            assertThat(ok("list", "--all")).contains(" -    ms     shut off\n");
            assertThat(ok("list", "--all", "--managed-save")).contains(" -    ms     saved\n");
            assertThat(ok("list", "--all", "--with-managed-save", "--name")).isEqualTo("ms\n\n");
            assertThat(ok("list", "--all", "--without-managed-save", "--name")).isEqualTo("\n");
            assertThat(fails("undefine", "ms")).contains("Refusing to undefine while domain managed save image"
                    + " exists");
            from = d.logSize();
            assertThat(ok("start", "ms")).isEqualTo("Domain 'ms' started\n\n");
            continuesFrom(d, from, managed);
            assertThat(ok("dominfo", "ms")).contains("Managed save:   no\n");
            assertThat(ok("managedsave-remove", "ms")).isEqualTo("Domain 'ms' has no manage save image; removal"
                    + " skipped\n\n");

            // --paused at save: the restore leaves the guest paused; --running overrides it.
            Path pausedFile = out.resolve("paused.state");
            Cli.Run verbose = Cli.run("save", "ms", pausedFile.toString(), "--paused", "--verbose", "--bypass-cache");
            assertThat(verbose.exitCode()).as(verbose.err()).isZero();
            assertThat(verbose.out()).isEqualTo("\nDomain 'ms' saved to " + pausedFile + "\n\n");
            assertThat(verbose.err()).endsWith("\rSave: [100 %]").doesNotContain("\n");
            TestGuest.Counter pausedAt = lastCounter(d);
            // --bypass-cache: none of the guest's RAM is left in the page cache, after save and restore.
            assertThat(cachedBytes(pausedFile)).as("cached bytes of the file after save --bypass-cache").isZero();
            ok("restore", pausedFile.toString(), "--bypass-cache");
            assertThat(cachedBytes(pausedFile)).as("cached bytes of the file after restore --bypass-cache").isZero();
            assertThat(ok("domstate", "ms")).isEqualTo("paused\n\n");
            from = d.logSize();
            ok("resume", "ms");
            continuesFrom(d, from, pausedAt);

            ok("shutdown", "ms", "--mode", "agent");
            d.awaitState("shut off (shutdown)", Duration.ofSeconds(120));
            TestGuest.Records records = d.records(d.disks.getFirst());
            assertThat(records.invalid()).isEmpty();
            assertThat(records.isContiguous()).as("records across three restores").isTrue();
            assertThat(records.valid()).allSatisfy(r -> assertThat(r.boot()).isEqualTo(saved.boot()));
            assertThat(TestGuest.fsck(d.disks.getFirst(), "qcow2").clean()).isTrue();
        }
    }

    @Test
    void vmsnapHaltedBeforeEveryStepOfASaveAndARestoreLeavesNoPausedGuestAndNoPartialFile() throws Exception {
        Path out = Files.createDirectories(dir.resolve("out"));
        try (LiveDomain d = LiveDomain.define(dir, "cr", 1)) {
            d.startAndAwaitReady();
            d.awaitSerial(0, "COUNTER");
            // steps of a save: pause, save memory, record the stop, quit QEMU, drop the partial link
            for (int step = 1; step <= 6; step++) {
                Path file = out.resolve("s" + step + ".state");
                boolean crashed = LiveDomain.crashedAt(step, "save", "cr", file.toString());
                TestGuest.Counter before = lastCounter(d);
                // the next command on the domain settles the interrupted save
                ok("managedsave-remove", "cr");
                assertThat(d.home.resolve("cr").resolve("journal")).doesNotExist();
                assertThat(names(out).stream().filter(n -> n.startsWith(".vmsnap-partial-")))
                        .as("no partial file after a halt before step %d", step).isEmpty();
                if (!crashed || step >= 4) {
                    // QEMU's end had begun: the save was finished; the file is whole
                    assertThat(ok("domstate", "cr", "--reason")).as("step %d", step).isEqualTo("shut off (saved)\n\n");
                    assertThat(file).exists();
                    long from = d.logSize();
                    ok("restore", file.toString());
                    continuesFrom(d, from, before);
                } else {
                    assertThat(file).as("step %d: undone, no file under the final name", step).doesNotExist();
                    assertThat(ok("domstate", "cr")).as("step %d: the guest runs again", step).isEqualTo("running\n\n");
                    long from = d.logSize();
                    d.awaitSerial(from, "COUNTER");
                }
                if (!crashed) {
                    break;
                }
            }
            // steps of a start from a managed save: restore, resume, remove the image
            for (int step = 1; step <= 4; step++) {
                ok("managedsave", "cr");
                TestGuest.Counter before = lastCounter(d);
                boolean crashed = LiveDomain.crashedAt(step, "start", "cr");
                long from = d.logSize();
                ok("managedsave-remove", "cr"); // settles the start first
                assertThat(d.home.resolve("cr").resolve("journal")).doesNotExist();
                if (crashed && step == 1) {
                    assertThat(ok("domstate", "cr")).isEqualTo("shut off\n\n");
                    ok("start", "cr"); // the image was removed above: a boot
                    d.awaitSerial(from, TestGuest.READY_LINE);
                    d.awaitSerial(d.logSize(), "COUNTER"); // the new boot's counter, before the next save
                } else {
                    assertThat(ok("domstate", "cr")).as("step %d", step).isEqualTo("running\n\n");
                    continuesFrom(d, from, before);
                }
                if (!crashed) {
                    break;
                }
            }
            ok("destroy", "cr");
        }
    }

    @Test
    void qemuKilledDuringTheSaveAndADomainThatChangedItsDisks() throws Exception {
        Path out = Files.createDirectories(dir.resolve("out"));
        try (LiveDomain d = LiveDomain.define(dir, "qk", 1)) {
            d.startAndAwaitReady();
            d.awaitSerial(0, "COUNTER");
            long pid = d.pid();
            Path file = out.resolve("qk.state");
            Thread save = Thread.ofPlatform().start(() -> Cli.run("save", "qk", file.toString()));
            // domjobinfo from "another process" sees the save; then QEMU dies mid-stream
            String job = "";
            for (int i = 0; i < 2000 && !job.contains("Operation:"); i++) {
                job = Cli.run("domjobinfo", "qk").out();
                if (!save.isAlive()) {
                    break;
                }
            }
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
            save.join();
            if (job.contains("Operation:")) {
                assertThat(job).contains("Operation:        Save\n").contains("Memory processed:");
            } else {
                System.out.println("MemorySaveIT: the save ended before domjobinfo saw it");
            }
            assertThat(names(out).stream().filter(n -> n.startsWith(".vmsnap-partial-"))).isEmpty();
            assertThat(ok("domstate", "qk")).isEqualTo("shut off\n\n");
            if (Files.exists(file)) {
                // the save finished before the kill: the file is whole
                ok("restore", file.toString());
                ok("destroy", "qk");
            }

            // a save, then the domain's disks change: the file is refused before QEMU starts
            d.startAndAwaitReady();
            Path f2 = out.resolve("qk2.state");
            ok("save", "qk", f2.toString());
            Path xml = dir.resolve("changed.xml");
            Path other = dir.resolve("other.qcow2");
            TestGuest.createDataDisk(other, 64);
            Files.writeString(xml, ok("dumpxml", "qk").replace(d.disks.getFirst().toString(), other.toString()));
            ok("define", xml.toString());
            assertThat(fails("restore", f2.toString())).contains("the devices would not match");
            assertThat(LiveDomain.qemusUnder(dir)).isEmpty();
            assertThat(ok("domstate", "qk")).isEqualTo("shut off\n\n");
        }
    }

    @Test
    void aFullDiskDuringTheSaveLeavesNoFileAndTheGuestRunning() throws Exception {
        Path small = Files.createDirectories(dir.resolve("small"));
        Process mount = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", small.toString())
                .inheritIO().start();
        assertThat(mount.waitFor()).as("mount a 4 MiB tmpfs (the tests run as root, as CI does)").isZero();
        try (LiveDomain d = LiveDomain.define(dir, "full", 1)) {
            d.startAndAwaitReady();
            d.awaitSerial(0, "COUNTER");
            Path file = small.resolve("full.state");
            String line = fails("save", "full", file.toString());
            assertThat(line).startsWith("vmsnap: Failed to save domain 'full' to " + file).contains("No space left");
            assertThat(names(small)).isEmpty();
            assertThat(ok("domstate", "full")).isEqualTo("running\n\n");
            long from = d.logSize();
            d.awaitSerial(from, "COUNTER");
        } finally {
            new ProcessBuilder("umount", small.toString()).inheritIO().start().waitFor();
        }
    }
}
