package org.vmsnap.cli.live;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import org.vmsnap.cli.Cli;
import org.vmsnap.testkit.TestGuest;

/**
 * The test guest as a vmsnap domain, driven only through vmsnap's command line (in this process,
 * with its own state folder): its XML (direct kernel boot, ext4 data disks on virtio, the guest
 * agent channel), waiting for what the guest prints on its serial console, and a clean-up that
 * destroys every QEMU the test left running and checks that none is left.
 */
public final class LiveDomain implements AutoCloseable {
    /**
     * Runs vmsnap with its plan halted before {@code step}, as a kill would; false when it ran to
     * the end (the fault tests of live creates, deletes, saves and checkpoints).
     */
    static boolean crashedAt(int step, String... args) {
        org.vmsnap.manager.plan.CrashPoint.arm(step);
        try {
            Cli.Run r = Cli.run(args);
            assertThat(r.exitCode()).as("%s: %s", String.join(" ", args), r.err()).isZero();
            return false;
        } catch (org.vmsnap.manager.plan.CrashPoint.SimulatedCrash expected) {
            return true;
        } finally {
            org.vmsnap.manager.plan.CrashPoint.arm(0);
        }
    }

    /** A boot under TCG on 2 busy cores takes 6-20 s. */
    static final Duration BOOT = Duration.ofSeconds(120);

    final Path dir;
    final Path home;
    final String name;
    final List<Path> disks = new ArrayList<>();

    private LiveDomain(Path dir, String name) {
        this.dir = dir;
        this.home = dir.resolve("home");
        this.name = name;
    }

    /**
     * A domain {@code name} with {@code diskCount} ext4 data disks (vda, vdb, ...) of 64 MiB,
     * defined from the test guest's XML (the same XML libvirt gets in the comparisons).
     */
    static LiveDomain define(Path dir, String name, int diskCount) throws IOException {
        return define(dir, name, diskCount, xml -> xml);
    }

    /** {@link #define(Path, String, int)} with the test guest's XML changed by {@code edit} first. */
    static LiveDomain define(Path dir, String name, int diskCount, java.util.function.UnaryOperator<String> edit)
            throws IOException {
        LiveDomain d = new LiveDomain(dir, name);
        System.setProperty("vmsnap.home", d.home.toString());
        for (int i = 0; i < diskCount; i++) {
            Path disk = dir.resolve("data" + i + ".qcow2");
            TestGuest.createDataDisk(disk, 64);
            d.disks.add(disk);
        }
        Path xml = dir.resolve(name + ".xml");
        Files.writeString(xml, edit.apply(TestGuest.get().domainXml(name, d.disks, d.serialLog())));
        ok("define", xml.toString());
        return d;
    }

    /** vmsnap's state folder in {@code dir} (home), with nothing defined yet: the test defines {@code name}. */
    static LiveDomain home(Path dir, String name) {
        LiveDomain d = new LiveDomain(dir, name);
        System.setProperty("vmsnap.home", d.home.toString());
        return d;
    }

    /** Runs a vmsnap command that must succeed; returns what it printed. */
    static String ok(String... args) {
        Cli.Run r = Cli.run(args);
        assertThat(r.exitCode()).as("vmsnap %s: %s", String.join(" ", args), r.err()).isZero();
        return r.out();
    }

    /** Runs a vmsnap command that must fail with one line; returns that line. */
    static String fails(String... args) {
        Cli.Run r = Cli.run(args);
        assertThat(r.exitCode()).as("vmsnap %s should fail; printed %s", String.join(" ", args), r.out()).isNotZero();
        assertThat(r.err().lines()).as("one line: %s", r.err()).hasSize(1);
        return r.err().strip();
    }

    Path serialLog() {
        return dir.resolve(name + "-serial.log");
    }

    /** The run folder of the domain's QEMU (sockets, pid file), outside the state folder. */
    Path runDir() {
        try {
            return new org.vmsnap.manager.store.DomainStore(home, name).runFolder();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    Path pidFile() {
        return runDir().resolve("qemu.pid");
    }

    long pid() throws IOException {
        return Long.parseLong(Files.readString(pidFile()).strip());
    }

    /** Starts the domain and waits until the guest's writer runs. */
    void startAndAwaitReady() {
        long from = logSize();
        start();
        awaitSerial(from, TestGuest.READY_LINE);
    }

    /** QEMU up and the guest booting: enough for what needs only QEMU's block layer. */
    void start() {
        assertThat(ok("start", name)).isEqualTo("Domain '" + name + "' started\n\n");
    }

    /**
     * The whole counter lines printed after byte {@code from}, at least one: "COUNTER" can be in
     * the log before the rest of its line.
     */
    List<TestGuest.Counter> awaitCounters(long from) {
        long deadline = System.nanoTime() + BOOT.toNanos();
        List<TestGuest.Counter> c = TestGuest.counters(awaitSerial(from, "COUNTER"));
        while (c.isEmpty()) {
            assertThat(System.nanoTime()).as("a whole counter line after byte %d", from).isLessThan(deadline);
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
            c = TestGuest.counters(awaitSerial(from, "COUNTER"));
        }
        return c;
    }

    long logSize() {
        try {
            return Files.exists(serialLog()) ? Files.size(serialLog()) : 0;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    String awaitSerial(long from, String needle) {
        return TestGuest.awaitSerial(serialLog(), from, needle, BOOT);
    }

    /** The boot id of the guest's last counter line. */
    String bootId() {
        return TestGuest.counters(TestGuest.readFrom(serialLog(), 0)).getLast().boot();
    }

    /** Waits for a new boot after byte {@code from} (its ready line, then a counter); returns its boot id. */
    String awaitBoot(long from) {
        String text = awaitSerial(from, TestGuest.READY_LINE);
        long ready = from + text.getBytes(StandardCharsets.UTF_8).length
                - text.substring(text.indexOf(TestGuest.READY_LINE)).getBytes(StandardCharsets.UTF_8).length;
        return awaitCounters(ready).getFirst().boot();
    }

    /** Waits until the domain is in {@code state} (domstate --reason), at most {@code timeout}. */
    void awaitState(String state, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        String now = "";
        while (System.nanoTime() < deadline) {
            now = ok("domstate", name, "--reason").strip();
            if (now.equals(state)) {
                return;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("domain " + name + " is '" + now + "', not '" + state + "', after " + timeout);
    }

    /** Records on disk {@code i} once the domain is shut off (checksummed, numbered by the guest). */
    TestGuest.Records records(Path image) {
        return TestGuest.readRecords(image, "qcow2");
    }

    /** Destroys what runs, then checks that no QEMU of this folder is left. */
    @Override
    public void close() {
        Cli.run("destroy", name);
        System.clearProperty("vmsnap.home");
        assertThat(qemusUnder(dir)).as("QEMU processes left under " + dir).isEmpty();
    }

    public static List<Long> qemusUnder(Path dir) {
        List<Long> found = new ArrayList<>();
        ProcessHandle.allProcesses().filter(ProcessHandle::isAlive).forEach(p -> {
            try {
                String cmdline = new String(Files.readAllBytes(Path.of("/proc", Long.toString(p.pid()), "cmdline")),
                        StandardCharsets.UTF_8);
                if (cmdline.contains("qemu-system") && cmdline.contains(dir.toAbsolutePath().toString())) {
                    found.add(p.pid());
                }
            } catch (IOException ignored) {
                // gone meanwhile
            }
        });
        return found;
    }
}
