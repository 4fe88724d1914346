package org.vmsnap.cli.live;

import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import org.vmsnap.cli.Cli;
import org.vmsnap.qmp.QmpClient;
import org.vmsnap.testkit.Libvirt;
import org.vmsnap.testkit.TestGuest;

/**
 * bench/save.sh: save and restore of the test guest (RAM partly filled with random and
 * compressible data) by vmsnap, by QEMU's plain stream to a file ({@code exec:cat} + fsync, on
 * the same vmsnap-started QEMU) and by libvirt 9.0's {@code virsh save}/{@code restore}, in one
 * run. Not a test: prints a Markdown table.
 *
 * <p>Arguments: work folder (short: libvirt's socket lives in it), guest MiB, fill MiB, runs, zstd levels,
 * and "0" to leave libvirt out (its ratios then print as NaN). System property
 * {@code vmsnap.bench.keep}: a path prefix under which the first run's memory file of each level is kept.
 */
public final class SaveBench {
    private static final Duration LONG = Duration.ofMinutes(10);

    private record Sample(double save, double restore, long bytes) {
    }

    public static void main(String[] args) throws Exception {
        Path work = Path.of(args[0]).toAbsolutePath();
        int mem = Integer.parseInt(args[1]);
        int fill = Integer.parseInt(args[2]);
        int runs = Integer.parseInt(args[3]);
        List<String> levels = List.of((args.length > 4 ? args[4] : "1").trim().split("\\s+"));
        Files.createDirectories(work);
        java.util.Map<String, List<Sample>> byLevel = new java.util.LinkedHashMap<>();
        levels.forEach(l -> byLevel.put(l, new ArrayList<>()));
        List<Sample> plain = new ArrayList<>();
        List<Sample> libvirt = new ArrayList<>();

        Path vdisk = work.resolve("v.qcow2");
        Path vserial = work.resolve("v-serial.log");
        Files.deleteIfExists(vdisk);
        Files.deleteIfExists(vserial);
        TestGuest.createDataDisk(vdisk, 32);
        Path vxml = work.resolve("v.xml");
        Files.writeString(vxml, withFill(TestGuest.get().domainXml("bsave", mem, List.of(vdisk), vserial), fill));
        System.setProperty("vmsnap.home", work.resolve("home").toString());
        Cli.run("destroy", "bsave");
        ok("define", vxml.toString());
        for (int r = 1; r <= runs; r++) {
            long from = size(vserial);
            ok("start", "bsave");
            TestGuest.awaitSerial(vserial, from, TestGuest.READY_LINE, LONG);
            // The first save after a boot was the slowest whoever made it (vmsnap at either level),
            // so the order turns by one each run: QEMU's plain stream and every level each come
            // first, second, ... in turn.
            List<String> order = new ArrayList<>(levels);
            order.add(PLAIN);
            java.util.Collections.rotate(order, -((r - 1) % order.size()));
            for (String level : order) {
                if (level.equals(PLAIN)) {
                    plain.add(plainStream(work));
                    continue;
                }
                System.setProperty("vmsnap.memoryZstdLevel", level);
                Path state = work.resolve("v.state");
                Files.deleteIfExists(state);
                long t0 = System.nanoTime();
                ok("save", "bsave", state.toString());
                long t1 = System.nanoTime();
                ok("restore", state.toString());
                long t2 = System.nanoTime();
                byLevel.get(level).add(new Sample((t1 - t0) / 1e9, (t2 - t1) / 1e9, Files.size(state)));
                String keep = System.getProperty("vmsnap.bench.keep");
                if (keep != null && r == 1) {
                    Files.copy(state, Path.of(keep + "-" + level), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                }
                Files.delete(state);
            }
            System.clearProperty("vmsnap.memoryZstdLevel");
            ok("destroy", "bsave");
            System.err.println("bench: vmsnap run " + r + " done");
        }
        System.clearProperty("vmsnap.home");

        Path ldisk = work.resolve("l.qcow2");
        Path lserial = work.resolve("l-serial.log");
        Files.deleteIfExists(ldisk);
        Files.deleteIfExists(lserial);
        TestGuest.createDataDisk(ldisk, 32);
        Path lxml = work.resolve("l.xml");
        Files.writeString(lxml, withFill(TestGuest.get().domainXml("lsave", mem, List.of(ldisk), lserial), fill));
        boolean withLibvirt = args.length <= 5 || !args[5].equals("0");
        if (withLibvirt) try (Libvirt lv = Libvirt.start(work.resolve("libvirt"))) {
            lv.virshOk("define", lxml.toString());
            for (int r = 1; r <= runs; r++) {
                long from = size(lserial);
                lv.virshOk("start", "lsave");
                TestGuest.awaitSerial(lserial, from, TestGuest.READY_LINE, LONG);
                Path state = work.resolve("l.save");
                Files.deleteIfExists(state);
                long t0 = System.nanoTime();
                lv.virshOk("save", "lsave", state.toString());
                long t1 = System.nanoTime();
                lv.virshOk("restore", state.toString());
                long t2 = System.nanoTime();
                libvirt.add(new Sample((t1 - t0) / 1e9, (t2 - t1) / 1e9, Files.size(state)));
                Files.delete(state);
                lv.virshOk("destroy", "lsave");
                System.err.println("bench: libvirt run " + r + " done");
            }
        }

        double streamBytes = median(plain.stream().mapToDouble(Sample::bytes).toArray());
        System.out.println("| what | save s | restore s | file MiB | file / QEMU stream |");
        System.out.println("|---|---|---|---|---|");
        row("QEMU plain stream (exec:cat + fsync)", plain, streamBytes);
        for (var e : byLevel.entrySet()) {
            row("vmsnap save / restore, zstd level " + e.getKey(), e.getValue(), streamBytes);
        }
        List<Sample> vmsnap = byLevel.get(levels.getFirst());
        if (withLibvirt) {
            row("libvirt 9.0 virsh save / restore", libvirt, streamBytes);
        }
        double vs = median(vmsnap.stream().mapToDouble(Sample::save).toArray());
        double ps = median(plain.stream().mapToDouble(Sample::save).toArray());
        double ls = withLibvirt ? median(libvirt.stream().mapToDouble(Sample::save).toArray()) : Double.NaN;
        double vr = median(vmsnap.stream().mapToDouble(Sample::restore).toArray());
        double lr = withLibvirt ? median(libvirt.stream().mapToDouble(Sample::restore).toArray()) : Double.NaN;
        System.out.printf(Locale.ROOT, "%nRatios (medians, zstd level " + levels.getFirst() + "): save %.2fx QEMU's plain stream, %.2fx virsh save;"
                + " restore %.2fx virsh restore; file %.2fx the stream.%n", vs / ps, vs / ls, vr / lr,
                median(vmsnap.stream().mapToDouble(Sample::bytes).toArray()) / streamBytes);
    }

    /** QEMU's own stream of the restored vmsnap QEMU to a file, synced; the guest is stopped first. */
    /** QEMU's plain stream's place in a run's order. */
    private static final String PLAIN = "plain";

    private static Sample plainStream(Path work) throws Exception {
        Path file = work.resolve("plain.raw");
        Files.deleteIfExists(file);
        Path sock = new org.vmsnap.manager.store.DomainStore(work.resolve("home"), "bsave").runFolder().resolve("qmp.sock");
        try (QmpClient qmp = QmpClient.connect(sock, Duration.ofSeconds(30))) {
            var caps = QmpClient.arguments();
            caps.putArray("capabilities").addObject().put("capability", "events").put("state", true);
            qmp.execute("migrate-set-capabilities", caps, Duration.ofSeconds(30));
            qmp.execute("migrate-set-parameters", QmpClient.arguments().put("max-bandwidth", 1L << 40),
                    Duration.ofSeconds(30));
            long t0 = System.nanoTime();
            qmp.execute("stop", null, Duration.ofSeconds(30));
            try (QmpClient.EventStream events = qmp.events(e -> e.name().equals("MIGRATION"))) {
                qmp.execute("migrate", QmpClient.arguments().put("uri", "exec:cat > " + file), Duration.ofSeconds(30));
                while (true) {
                    String s = events.next(LONG).text("status");
                    if (s.equals("completed")) {
                        break;
                    }
                    if (s.equals("failed") || s.equals("cancelled")) {
                        throw new IllegalStateException("plain migration " + s);
                    }
                }
            }
            try (FileChannel ch = FileChannel.open(file)) {
                ch.force(true);
            }
            long t1 = System.nanoTime();
            long bytes = Files.size(file);
            Files.delete(file);
            qmp.execute("cont", null, Duration.ofSeconds(30)); // untimed: the next contestant saves a running guest
            return new Sample((t1 - t0) / 1e9, Double.NaN, bytes);
        }
    }

    private static String withFill(String xml, int fill) {
        return xml.replace(TestGuest.KERNEL_ARGS, TestGuest.KERNEL_ARGS + " vmsnap.fill=" + fill);
    }

    private static void ok(String... args) {
        Cli.Run r = Cli.run(args);
        if (r.exitCode() != 0) {
            throw new IllegalStateException("vmsnap " + String.join(" ", args) + ": " + r.err());
        }
    }

    private static long size(Path p) throws Exception {
        return Files.exists(p) ? Files.size(p) : 0;
    }

    private static void row(String what, List<Sample> s, double streamBytes) {
        double bytes = median(s.stream().mapToDouble(Sample::bytes).toArray());
        double restore = median(s.stream().mapToDouble(Sample::restore).toArray());
        System.out.printf(Locale.ROOT, "| %s | %.2f | %s | %.1f | %.2f |%n", what,
                median(s.stream().mapToDouble(Sample::save).toArray()),
                Double.isNaN(restore) ? "-" : String.format(Locale.ROOT, "%.2f", restore), bytes / 1048576.0,
                bytes / streamBytes);
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        java.util.Arrays.sort(sorted);
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
}
