package org.vmsnap.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code vmsnap demo}: a short walk through the img commands on a sample disk (an internal
 * snapshot taken, listed, read, applied and deleted included), then through the VM snapshot
 * commands ({@link VmDemo}), each command printed as "$ vmsnap ..." before its output and run
 * in this process.
 */
@Command(name = "demo", description = "Walk through the img commands on a sample disk, the snapshot commands on"
        + " a small shut-off VM with two disks, then a running VM snapshotted and merged live (about a minute; the"
        + " running VM is built from Debian packages on first use).",
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap demo", "  vmsnap demo --dir /tmp/vmsnap-demo     # keep the files",
                "  vmsnap demo --no-live                  # without the running VM"})
public final class DemoCommand implements java.util.concurrent.Callable<Integer> {

    /** Size of the sample disk: small enough to be instant, big enough to show a sparse map. */
    static final long DISK_BYTES = 16L << 20;

    @Option(names = "--dir", paramLabel = "DIR",
            description = "Work in DIR and keep the files (default: a temporary folder, removed afterwards).")
    Path dir;

    @Option(names = "--no-live", description = "Leave out the running VM (it needs QEMU and a minute).")
    boolean noLive;

    @Option(names = "--live-only", description = "Show only the running VM.")
    boolean liveOnly;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        if (liveOnly) {
            return live();
        }
        PrintWriter out = spec.commandLine().getOut();
        boolean keep = dir != null;
        Path work = keep ? Files.createDirectories(dir) : Files.createTempDirectory("vmsnap-demo-");
        try {
            Path source = work.resolve("source.raw");
            writeSample(source);
            out.println("# " + source + ": a " + (DISK_BYTES >> 20) + " MiB raw disk with a text at 0, "
                    + "a 0xa5 pattern at 4 MiB and a text at 12 MiB; the rest is holes");
            String disk = work.resolve("disk.qcow2").toString();
            String overlay = work.resolve("overlay.qcow2").toString();
            String copy = work.resolve("copy.raw").toString();
            String snap = work.resolve("before-edit.raw").toString();
            String[][] steps = {
                {"img", "info", source.toString()},
                {"img", "convert", "-f", "raw", "-O", "qcow2", source.toString(), disk},
                {"img", "info", disk},
                {"img", "map", disk},
                {"img", "map", "--output=json", disk},
                {"img", "check", disk},
                {"img", "snapshot", "-c", "before-edit", disk},
                null, // the demo edits the disk here
                {"img", "snapshot", "-l", disk},
                {"img", "convert", "-l", "before-edit", "-O", "raw", disk, snap},
                {"img", "compare", "-f", "raw", "-F", "raw", source.toString(), snap},
                {"img", "snapshot", "-a", "before-edit", disk},
                {"img", "compare", "-f", "raw", "-F", "qcow2", source.toString(), disk},
                {"img", "snapshot", "-d", "before-edit", disk},
                {"img", "check", disk},
                {"img", "create", "-f", "qcow2", "-b", "disk.qcow2", "-F", "qcow2", overlay},
                {"img", "info", "--backing-chain", overlay},
                {"img", "compare", disk, overlay},
                {"img", "convert", "-O", "raw", overlay, copy},
                {"img", "compare", "-f", "raw", "-F", "raw", source.toString(), copy},
            };
            for (String[] step : steps) {
                out.println();
                if (step == null) {
                    out.println("# editing " + disk + ": a new text over the first sector (the snapshot keeps the old one)");
                    editFirstSector(Path.of(disk));
                    continue;
                }
                out.println("$ vmsnap " + String.join(" ", step));
                out.flush();
                int code = Main.run(out, spec.commandLine().getErr(), step);
                if (code != 0) {
                    out.flush();
                    throw new CliException(code, "demo stopped: 'vmsnap " + String.join(" ", step)
                            + "' exited with " + code);
                }
            }
            new VmDemo(out, spec.commandLine().getErr(), Files.createDirectories(work.resolve("vm"))).run();
            if (!noLive) {
                runLive(Files.createDirectories(work.resolve("live")));
            }
            out.println();
            out.println(keep ? "# The files are in " + work : "# Done; the temporary folder " + work + " is removed.");
            return 0;
        } finally {
            if (!keep) {
                deleteTree(work);
            }
        }
    }

    /** Only the running VM, in its own folder (kept with --dir). */
    private int live() throws IOException {
        boolean keep = dir != null;
        Path work = keep ? Files.createDirectories(dir) : Files.createTempDirectory("vmsnap-demo-");
        try {
            runLive(work);
            return 0;
        } finally {
            if (!keep) {
                deleteTree(work);
            }
        }
    }

    private void runLive(Path work) throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        java.util.List<String> missing = LiveDemo.missing();
        if (!missing.isEmpty()) {
            out.println();
            out.println("# Skipping the running VM: it needs the Debian packages " + String.join(" ", missing)
                    + " (as root: apt-get install " + String.join(" ", missing) + "; ./vmsnap-test installs them)");
            return;
        }
        try {
            new LiveDemo(out, spec.commandLine().getErr(), work).run();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliException(1, "demo interrupted");
        }
    }

    /** Overwrites the text at the start of the qcow2 disk (copy-on-write: the snapshot keeps the old one). */
    static void editFirstSector(Path disk) throws IOException {
        try (org.vmsnap.qcow2.Qcow2Image img = org.vmsnap.qcow2.Qcow2Image.open(disk,
                org.vmsnap.qcow2.OpenOptions.readWrite())) {
            img.write(0, ByteBuffer.wrap("edited after the snapshot: this text replaces the old one\n"
                    .getBytes(StandardCharsets.US_ASCII)));
        }
    }

    /** A sparse raw disk with recognisable content: two texts and one pattern. */
    static void writeSample(Path file) throws IOException {
        Files.createFile(file);
        try (java.io.RandomAccessFile raf = new java.io.RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(DISK_BYTES);   // sparse: only the written parts take space
            FileChannel ch = raf.getChannel();
            ch.write(ByteBuffer.wrap("vmsnap demo disk: hello from the first sector\n".getBytes(StandardCharsets.US_ASCII)), 0);
            byte[] pattern = new byte[256 << 10];
            java.util.Arrays.fill(pattern, (byte) 0xa5);
            ch.write(ByteBuffer.wrap(pattern), 4L << 20);
            ch.write(ByteBuffer.wrap("and this text sits at 12 MiB\n".getBytes(StandardCharsets.US_ASCII)), 12L << 20);
        }
    }

    static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
