package org.vmsnap.qmp;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.vmsnap.testkit.TestGuest;

/**
 * Benchmark (not a test; run by bench/memstream.sh): saves and restores the memory of one
 * running test guest with vmsnap's zstd stream and with QEMU's plain stream to a file
 * ({@code migrate exec:cat > FILE}, restored with {@code migrate-incoming exec:cat FILE}),
 * and prints a Markdown table of median save time, restore time and file size.
 *
 * <p>Every save starts from a paused VM (as {@code virsh save} does), so each method
 * writes the same single pass of memory. A save ends when QEMU reports the migration
 * completed and the file is on disk (fsync), for both methods. A restore is timed from
 * {@code migrate-incoming} to completion, into a QEMU started with {@code -incoming defer}
 * (its start-up is not counted). Arguments: work folder, guest MiB, fill MiB, runs, zstd
 * variants ("3" level 3, "3w2" level 3 with 2 worker threads).
 */
public final class MemoryStreamBench {

    private static final Duration T = Duration.ofSeconds(60);
    private static final Duration LONG = Duration.ofMinutes(10);

    private record Sample(double saveSeconds, double restoreSeconds, long fileBytes, long streamBytes) {
    }

    public static void main(String[] args) throws Exception {
        Path work = Path.of(args[0]);
        int memoryMiB = Integer.parseInt(args[1]);
        int fillMiB = Integer.parseInt(args[2]);
        int runs = Integer.parseInt(args[3]);
        // "3" is level 3 on one thread, "3w2" level 3 on 2 threads, "1w2f8" 8 MiB frames (default 4)
        List<MemoryFileWriter.Compression> variants = new ArrayList<>();
        for (String variant : args[4].trim().split("\\s+")) {
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("(-?\\d+)(?:w(\\d+))?(?:f(\\d+))?")
                    .matcher(variant);
            if (!m.matches()) {
                throw new IllegalArgumentException("variant " + variant);
            }
            variants.add(new MemoryFileWriter.Compression(Integer.parseInt(m.group(1)),
                    (m.group(3) == null ? 4 : Integer.parseInt(m.group(3))) << 20,
                    m.group(2) == null ? 1 : Integer.parseInt(m.group(2))));
        }
        Files.createDirectories(work);
        Path data = work.resolve("data.qcow2");
        Files.deleteIfExists(data);
        TestGuest.createDataDisk(data, 64);
        VmSpec spec = LiveGuests.spec("bench", memoryMiB, "vmsnap.fill=" + fillMiB, List.of(LiveGuests.disk("data", data)))
                .toBuilder().accel(VmSpec.Accel.AUTO).build();
        Path run = work.resolve("src");
        Files.deleteIfExists(run.resolve("serial.log"));
        System.err.println("bench: booting a " + memoryMiB + " MiB guest, filling " + fillMiB + " MiB (accel "
                + (QemuProcess.kvmUsable() ? "kvm" : "tcg") + ")");
        QemuProcess source = QemuProcess.start(spec, run, T);
        Map<String, List<Sample>> samples = new LinkedHashMap<>();
        try {
            TestGuest.awaitSerial(source.runFolder().serialLog(), 0, TestGuest.READY_LINE, LONG);
            for (int r = 1; r <= runs; r++) {
                samples.computeIfAbsent("qemu plain (exec:cat)", k -> new ArrayList<>()).add(plain(source, spec, work));
                for (MemoryFileWriter.Compression c : variants) {
                    String name = "vmsnap zstd level " + c.level() + (c.threads() > 1 ? ", " + c.threads() + " threads" : "") + ", " + (c.frameBytes() >> 20) + " MiB frames";
                    samples.computeIfAbsent(name, k -> new ArrayList<>()).add(zstd(source, spec, work, c));
                }
                System.err.println("bench: run " + r + " of " + runs + " done");
            }
        } finally {
            source.kill();
        }
        System.out.println("- accelerator: " + (QemuProcess.kvmUsable() ? "kvm" : "tcg"));
        System.out.println();
        System.out.println("| method | save median s | restore median s | file MiB | QEMU stream MiB | file/stream |");
        System.out.println("|---|---:|---:|---:|---:|---:|");
        for (Map.Entry<String, List<Sample>> e : samples.entrySet()) {
            List<Sample> s = e.getValue();
            long file = s.getLast().fileBytes();
            long stream = s.getLast().streamBytes();
            System.out.printf(Locale.ROOT, "| %s | %.3f | %.3f | %.1f | %.1f | %.3f |%n", e.getKey(),
                    median(s.stream().mapToDouble(Sample::saveSeconds).toArray()),
                    median(s.stream().mapToDouble(Sample::restoreSeconds).toArray()),
                    file / 1048576.0, stream / 1048576.0, (double) file / stream);
        }
    }

    private static Sample zstd(QemuProcess source, VmSpec spec, Path work, MemoryFileWriter.Compression compression)
            throws IOException {
        Path file = work.resolve("state.zst");
        source.qmp().execute("stop", null, T);
        MemoryStream.Figures saved = MemoryStream.save(source.qmp(), source.runFolder().dir(), file, "<domain/>", false, compression, LONG);
        QemuProcess target = QemuProcess.startIncoming(spec, work.resolve("dst"), T);
        MemoryStream.Figures restored;
        try {
            restored = MemoryStream.restore(target.qmp(), target.runFolder().dir(), MemoryFile.verify(file), LONG);
        } finally {
            target.quit();
        }
        source.qmp().execute("cont", null, T);
        Files.delete(file);
        return new Sample(seconds(saved.elapsed()), seconds(restored.elapsed()), saved.fileBytes(), saved.streamBytes());
    }

    private static Sample plain(QemuProcess source, VmSpec spec, Path work) throws IOException {
        Path file = work.resolve("state.raw");
        Files.deleteIfExists(file);
        QmpClient qmp = source.qmp();
        qmp.execute("stop", null, T);
        enableEventsAndBandwidth(qmp);
        long start = System.nanoTime();
        migrate(qmp, "migrate", "exec:cat > " + file);
        // on disk, like vmsnap's file: QEMU is done when cat has the data, not the disk
        try (java.nio.channels.FileChannel written = java.nio.channels.FileChannel.open(file)) {
            written.force(true);
        }
        double save = (System.nanoTime() - start) / 1e9;
        long size = Files.size(file);
        QemuProcess target = QemuProcess.startIncoming(spec, work.resolve("dst"), T);
        double restore;
        try {
            enableEventsAndBandwidth(target.qmp());
            long t = System.nanoTime();
            migrate(target.qmp(), "migrate-incoming", "exec:cat " + file);
            restore = (System.nanoTime() - t) / 1e9;
        } finally {
            target.quit();
        }
        qmp.execute("cont", null, T);
        Files.delete(file);
        return new Sample(save, restore, size, size);
    }

    private static void enableEventsAndBandwidth(QmpClient qmp) throws QmpException {
        var caps = QmpClient.arguments();
        caps.putArray("capabilities").addObject().put("capability", "events").put("state", true);
        qmp.execute("migrate-set-capabilities", caps, T);
        qmp.execute("migrate-set-parameters", QmpClient.arguments().put("max-bandwidth", 1L << 40), T);
    }

    private static void migrate(QmpClient qmp, String command, String uri) throws QmpException {
        try (QmpClient.EventStream events = qmp.events(e -> e.name().equals("MIGRATION"))) {
            qmp.execute(command, QmpClient.arguments().put("uri", uri), T);
            while (true) {
                String status = events.next(LONG).text("status");
                if (status.equals("completed")) {
                    return;
                }
                if (status.equals("failed") || status.equals("cancelled")) {
                    throw new QmpException(command + " " + uri + " " + status);
                }
            }
        }
    }

    private static double seconds(Duration d) {
        return d.toNanos() / 1e9;
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        java.util.Arrays.sort(sorted);
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
}
