package org.vmsnap.cli.live;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

import org.vmsnap.testkit.Libvirt;
import org.vmsnap.testkit.QemuTools;
import org.vmsnap.testkit.TestGuest;

/**
 * Benchmark (not a test; run by {@code bench/checkpoint.sh}): internal checkpoint create and
 * revert of the running test guest, vmsnap (its launcher, a new JVM per command, as a user runs
 * it) against libvirt 9.0 ({@code virsh} to a private libvirtd) in the same run, on the same
 * guest XML. The guest's pause is timed from outside: STOP to RESUME on a QMP monitor of the
 * benchmark's own ({@code <qemu:commandline>}). Prints a markdown table.
 *
 * <p>Arguments: work folder, runs, guest RAM in MiB, vmsnap launcher, MiB of RAM the guest fills
 * ({@code vmsnap.fill}: a quarter random, the rest copies of its binaries).
 */
public final class CheckpointBench {
    private CheckpointBench() {
    }

    /** One tool's way of running a snapshot verb on the domain. */
    private interface Tool {
        void run(String... args) throws IOException;
    }

    private record Figures(List<Double> create, List<Double> createPause, List<Double> revert,
                           List<Double> revertPause, List<Double> delete) {
        Figures() {
            this(new ArrayList<>(), new ArrayList<>(), new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
        }
    }

    /**
     * External checkpoints with --live (memory to a file in the guest's folder) instead of
     * internal ones; libvirt 9.0 cannot revert to them ("revert to external snapshot not supported
     * yet"), so its revert figures are n/a, and it deletes only their metadata.
     */
    private static boolean external;

    /**
     * vmsnap's internal checkpoints with --live (memory to a file beside the first disk, the disks'
     * internal snapshots at the save's last pause) against libvirt 9.0's internal checkpoint (it
     * refuses --live for internal ones).
     */
    private static boolean internalLive;

    /**
     * vmsnap only, create and delete only (no revert, no libvirt): the pause of each create, for
     * measuring changes to the pause quickly (BENCH_PAUSE_ONLY=1).
     */
    private static boolean pauseOnly;

    public static void main(String[] args) throws Exception {
        Path work = Path.of(args[0]).toAbsolutePath();
        int runs = Integer.parseInt(args[1]);
        int memMiB = Integer.parseInt(args[2]);
        Path launcher = Path.of(args[3]);
        int fillMiB = Integer.parseInt(args[4]);
        external = args.length > 5 && args[5].equals("external");
        internalLive = args.length > 5 && args[5].equals("internal-live");
        pauseOnly = args.length > 6 && args[6].equals("pause-only");
        Files.createDirectories(work);

        Path vmDir = Files.createDirectories(work.resolve("v"));
        clean(vmDir);
        Path vmHome = vmDir.resolve("home");
        Path vmWatch = vmDir.resolve("w.sock");
        Path vmXml = guestXml(vmDir, "bv", memMiB, fillMiB, vmWatch);
        Tool vmsnap = a -> {
            List<String> cmd = new ArrayList<>(List.of(launcher.toString()));
            cmd.addAll(List.of(a));
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
            pb.environment().put("VMSNAP_HOME", vmHome.toString());
            // Each command in its own JVM, or handed to the daemon this bench starts; never a
            // daemon of the launcher's own, which would serve some runs and not others.
            pb.environment().put("VMSNAP_DAEMON", Boolean.getBoolean("vmsnap.bench.daemon") ? "manual" : "off");
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes());
            try {
                if (p.waitFor() != 0) {
                    throw new IOException("vmsnap " + String.join(" ", a) + ": " + out);
                }
            } catch (InterruptedException e) {
                throw new IOException(e);
            }
        };
        vmsnap.run("--version"); // builds the jar if needed, outside the timings
        vmsnap.run("define", vmXml.toString());
        // -Dvmsnap.bench.daemon=true: vmsnap's commands go to a `vmsnap daemon` (the warm JVM, as
        // libvirtd is warm for virsh); the launcher hands them over.
        Process daemon = null;
        if (Boolean.getBoolean("vmsnap.bench.daemon")) {
            ProcessBuilder pb = new ProcessBuilder(launcher.toString(), "daemon", "--quiet").redirectErrorStream(true)
                    .redirectOutput(vmDir.resolve("daemon.log").toFile());
            pb.environment().put("VMSNAP_HOME", vmHome.toString());
            daemon = pb.start();
            for (int i = 0; i < 300 && !Files.exists(vmHome.resolve(".daemon")); i++) {
                TimeUnit.MILLISECONDS.sleep(100);
            }
            if (!Files.exists(vmHome.resolve(".daemon"))) {
                daemon.destroyForcibly();
                throw new IOException("vmsnap daemon did not start: " + Files.readString(vmDir.resolve("daemon.log")));
            }
        }
        Figures v;
        try {
            v = measure("vmsnap", vmsnap, "bv", vmDir, vmWatch, runs);
        } finally {
            try {
                vmsnap.run("destroy", "bv"); // no guest left running, whatever happened
            } catch (IOException e) {
                System.err.println(e.getMessage());
            }
            if (daemon != null) {
                daemon.destroy(); // SIGTERM: the daemon removes its socket and marker
                daemon.waitFor(30, TimeUnit.SECONDS);
            }
        }

        if (pauseOnly) {
            List<Double> p = v.createPause().stream().sorted().toList();
            System.out.println("| vmsnap, " + runs + " creates | min | median | max | every pause (ms, in order) |");
            System.out.println("|---|---:|---:|---:|---|");
            System.out.printf(Locale.ROOT, "| checkpoint create, guest paused | %s | %s | %s | %s |%n", fmt(p.getFirst()),
                    fmt(median(p)), fmt(p.getLast()), String.join(" ", v.createPause().stream()
                            .map(d -> String.format(Locale.ROOT, "%.1f", d * 1000)).toList()));
            System.out.printf(Locale.ROOT, "| checkpoint create, command | %s | %s | %s | |%n",
                    fmt(v.create().stream().min(Double::compare).orElseThrow()), fmt(median(v.create())),
                    fmt(v.create().stream().max(Double::compare).orElseThrow()));
            return;
        }
        Path lvDir = Files.createDirectories(work.resolve("l"));
        clean(lvDir);
        Path lvWatch = lvDir.resolve("w.sock");
        Path lvXml = guestXml(lvDir, "bl", memMiB, fillMiB, lvWatch);
        Figures l;
        Path lvWork = Files.createDirectories(work.resolve("lv"));
        clean(lvWork); // a libvirt state of an earlier run (its domain, its snapshots) would refuse the define
        try (Libvirt libvirt = Libvirt.start(lvWork)) {
            Tool virsh = a -> libvirt.virshOk(a);
            virsh.run("define", lvXml.toString());
            l = measure("libvirt", virsh, "bl", lvDir, lvWatch, runs);
            System.err.println("--- libvirt 9.0's own outputs for the reference ---");
            virsh.run("snapshot-create-as", "bl", "ref", "reference");
            System.err.println(libvirt.virshOk("snapshot-list", "bl").stdout());
            System.err.println(libvirt.virshOk("snapshot-info", "bl", "ref").stdout());
            String xml = libvirt.virshOk("snapshot-dumpxml", "bl", "ref").stdout();
            System.err.println(xml.substring(0, Math.min(xml.length(), 600)));
            virsh.run("destroy", "bl");
        }

        System.out.println("| step (median of " + runs + ") | vmsnap | libvirt 9.0 | vmsnap/libvirt |");
        System.out.println("|---|---:|---:|---:|");
        row("checkpoint create, command", v.create(), l.create());
        row("checkpoint create, guest paused", v.createPause(), l.createPause());
        row("revert to it (guest running), command", v.revert(), l.revert());
        row("revert, guest paused", v.revertPause(), l.revertPause());
        row("delete (domain running), command", v.delete(), l.delete());
    }

    private static void clean(Path dir) throws IOException {
        try (var s = Files.walk(dir)) {
            s.sorted(Collections.reverseOrder()).filter(p -> !p.equals(dir)).forEach(p -> p.toFile().delete());
        }
    }

    private static Path guestXml(Path dir, String name, int memMiB, int fillMiB, Path watch) throws IOException {
        List<Path> disks = List.of(dir.resolve("d0.qcow2"), dir.resolve("d1.qcow2"));
        for (Path d : disks) {
            TestGuest.createDataDisk(d, 64);
        }
        Path xml = dir.resolve(name + ".xml");
        Files.writeString(xml, PauseWatch.withMonitor(TestGuest.get().domainXml(name, memMiB, disks,
                dir.resolve("serial.log")), watch).replace(TestGuest.KERNEL_ARGS, TestGuest.KERNEL_ARGS
                + " vmsnap.fill=" + fillMiB));
        return xml;
    }

    private static Figures measure(String label, Tool tool, String name, Path dir, Path watchSocket, int runs)
            throws Exception {
        Path log = dir.resolve("serial.log");
        tool.run("start", name);
        TestGuest.awaitSerial(log, 0, TestGuest.READY_LINE, Duration.ofMinutes(3));
        TestGuest.awaitSerial(log, 0, TestGuest.SECOND_DISK_LINE, Duration.ofMinutes(3));
        Figures f = new Figures();
        for (int i = 1; i <= runs; i++) {
            TimeUnit.SECONDS.sleep(3); // the guest runs and writes between the steps
            String snap = "c" + i;
            try (PauseWatch watch = PauseWatch.connect(watchSocket)) {
                String[] create = external ? new String[] {"snapshot-create-as", name, snap, "--memspec",
                        dir.resolve(snap + ".mem").toString(), "--live"}
                        : internalLive && label.equals("vmsnap") ? new String[] {"snapshot-create-as", name, snap,
                                "--live"} : new String[] {"snapshot-create-as", name, snap};
                f.create().add(timed(() -> tool.run(create)));
                f.createPause().add(pause(watch));
            }
            TimeUnit.SECONDS.sleep(pauseOnly ? 1 : 3);
            if (pauseOnly) {
                f.delete().add(timed(() -> tool.run("snapshot-delete", name, snap)));
                f.revert().add(Double.NaN);
                f.revertPause().add(Double.NaN);
            } else if (external && label.equals("libvirt")) {
                f.revert().add(Double.NaN);
                f.revertPause().add(Double.NaN);
                f.delete().add(timed(() -> tool.run("snapshot-delete", name, snap, "--metadata")));
            } else {
                try (PauseWatch watch = PauseWatch.connect(watchSocket)) {
                    f.revert().add(timed(() -> tool.run("snapshot-revert", name, snap, "--running")));
                    f.revertPause().add(pause(watch));
                }
                TimeUnit.SECONDS.sleep(3);
                f.delete().add(timed(() -> tool.run("snapshot-delete", name, snap)));
            }
            System.err.printf(Locale.ROOT, "%s run %d: create %.3f s (paused %.3f), revert %.3f s (paused %.3f),"
                    + " delete %.3f s%n", label, i, last(f.create()), last(f.createPause()), last(f.revert()),
                    last(f.revertPause()), last(f.delete()));
        }
        return f;
    }

    private interface Step {
        void run() throws Exception;
    }

    private static double timed(Step s) throws Exception {
        long t0 = System.nanoTime();
        s.run();
        return (System.nanoTime() - t0) / 1e9;
    }

    /**
     * The guest's pause during the last step: STOP to RESUME on the watch monitor. libvirt's
     * revert restarts QEMU (the monitor goes with it): then NaN.
     */
    private static double pause(PauseWatch w) throws InterruptedException {
        TimeUnit.MILLISECONDS.sleep(200); // the RESUME event arrives just after the command returns
        List<Duration> p = w.pauses();
        return p.isEmpty() ? Double.NaN : p.stream().mapToLong(Duration::toNanos).sum() / 1e9;
    }

    private static double last(List<Double> l) {
        return l.getLast();
    }

    private static double median(List<Double> l) {
        List<Double> s = l.stream().filter(d -> !d.isNaN()).sorted().toList();
        if (s.isEmpty()) {
            return Double.NaN;
        }
        return s.size() % 2 == 1 ? s.get(s.size() / 2) : (s.get(s.size() / 2 - 1) + s.get(s.size() / 2)) / 2;
    }

    private static void row(String step, List<Double> v, List<Double> l) {
        double mv = median(v);
        double ml = median(l);
        System.out.printf(Locale.ROOT, "| %s | %s | %s | %s |%n", step, fmt(mv), fmt(ml),
                Double.isNaN(mv) || Double.isNaN(ml) ? "-" : String.format(Locale.ROOT, "%.2f", mv / ml));
    }

    private static String fmt(double s) {
        return Double.isNaN(s) ? "n/a" : String.format(Locale.ROOT, "%.3f s", s);
    }

    static {
        QemuTools.class.getName(); // testkit on the class path
    }
}
