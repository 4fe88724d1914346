package org.vmsnap.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.vmsnap.cli.Differential.assertSame;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.testkit.QemuTools;

/**
 * What a qemu-img user notices, next to qemu-img 7.2: an image left dirty, a header whose
 * backing file name has an offset but no length, -p progress into a pipe, and snapshot names
 * that begin with '-' as qemu-img's getopt takes them.
 */
class QemuImgParityIT {

    @TempDir
    Path dir;

    private Path p(String name) {
        return dir.resolve(name);
    }

    @Test
    void anImageLeftDirtyIsShownAsQemuImgShowsIt() {
        Path image = p("dirty.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", "-o", "lazy_refcounts=on", image.toString(), "1M");
        // qemu-io dies by SIGKILL after the write: the dirty bit stays set.
        QemuTools.Result killed = QemuTools.run(List.of(QemuTools.qemuIo().toString(), "-f", "qcow2",
                "-c", "write -P 0x33 0 64k", "-c", "sigraise 9", image.toString()));
        assertThat(killed.exitCode()).isNotZero();
        assertThat(QemuImg.ok("info", image.toString())).contains("cleanly shut down: no\n");
        assertSame("info", image.toString());
        assertSame("info", "--output=json", image.toString());
    }

    @Test
    void aBackingNameOfLengthZeroIsNoBackingFile() throws IOException {
        QemuImg.ok("create", "-q", "-f", "raw", p("base.raw").toString(), "1M");
        Path overlay = p("overlay.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", "-b", "base.raw", "-F", "raw", overlay.toString());
        QemuImg.io(overlay, "qcow2", "write -P 0x5a 64k 64k");
        try (FileChannel ch = FileChannel.open(overlay, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(4), 16); // backing_file_size = 0; backing_file_offset stays
        }
        String before = Files.readString(overlay, java.nio.charset.StandardCharsets.ISO_8859_1);
        assertSame("info", overlay.toString());
        assertSame("info", "--output=json", overlay.toString());
        assertSame("info", "--backing-chain", overlay.toString());
        assertSame("map", "--output=json", overlay.toString());
        assertSame("check", overlay.toString());
        assertThat(QemuImg.run("convert", "-O", "raw", overlay.toString(), p("q.raw").toString()).exitCode()).isZero();
        assertThat(Cli.run("img", "convert", "-O", "raw", overlay.toString(), p("v.raw").toString()).exitCode())
                .isZero();
        assertThat(Files.mismatch(p("q.raw"), p("v.raw"))).isEqualTo(-1);
        assertThat(Files.readString(overlay, java.nio.charset.StandardCharsets.ISO_8859_1)).isEqualTo(before);
        // And it can be written, as QEMU writes it.
        assertThat(Cli.run("img", "snapshot", "-c", "s1", overlay.toString()).exitCode()).isZero();
        assertThat(QemuImg.run("check", overlay.toString()).exitCode()).isZero();
    }

    /**
     * qemu-img -p output with the steps between 0% and 100% left out (they depend on each
     * tool's chunk sizes) and repeats joined: where the bar starts and ends, and where the
     * newline and the messages go, must be qemu-img's.
     */
    private static String progressShape(String out) {
        return out.replaceAll(" {4}\\((?!0\\.00/)(?!100\\.00/)[0-9.]+/100%\\)\\r", "")
                .replaceAll("( {4}\\((?:0|100)\\.00/100%\\)\\r)\\1+", "$1");
    }

    /** The same command by each tool; "@" in an argument stands for "q" (qemu-img) or "v" (vmsnap). */
    private void sameProgress(String... args) {
        Cli.Run qemu = QemuImg.run(java.util.Arrays.stream(args).map(a -> a.replace("@", "q")).toArray(String[]::new));
        Cli.Run ours = Cli.run(Differential.prepend("img",
                java.util.Arrays.stream(args).map(a -> a.replace("@", "v")).toArray(String[]::new)));
        assertThat(ours.exitCode()).as("%s: %s", List.of(args), ours.err()).isEqualTo(qemu.exitCode());
        assertThat(qemu.out()).as("qemu-img prints a bar into a pipe").startsWith("    (0.00/100%)\r");
        assertThat(progressShape(ours.out())).as("progress of %s", List.of(args)).isEqualTo(progressShape(qemu.out()));
    }

    @Test
    void progressGoesIntoPipesAsQemuImgPrintsIt() {
        Path src = p("src.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", src.toString(), "8M");
        QemuImg.io(src, "qcow2", "write -P 0x11 0 3M", "write -P 0x22 5M 1M");
        sameProgress("convert", "-p", "-O", "raw", src.toString(), p("@.raw").toString());
        sameProgress("compare", "-p", p("q.raw").toString(), p("v.raw").toString());
        QemuImg.io(p("v.raw"), "raw", "write -P 0x33 6M 4k");
        sameProgress("compare", "-p", p("q.raw").toString(), p("v.raw").toString());
        for (String tool : List.of("q", "v")) {
            Path top = p(tool + "-top.qcow2");
            QemuImg.ok("create", "-q", "-f", "qcow2", "-b", src.toString(), "-F", "qcow2", top.toString());
            QemuImg.io(top, "qcow2", "write -P 0x44 1M 1M");
        }
        // Same chain shape for both; each tool commits its own copy.
        Cli.Run qemuCommit = QemuImg.run("commit", "-p", "-d", p("q-top.qcow2").toString());
        Cli.Run ourCommit = Cli.run("img", "commit", "-p", "-d", p("v-top.qcow2").toString());
        assertThat(progressShape(ourCommit.out())).isEqualTo(progressShape(qemuCommit.out()));
        Cli.Run qemuRebase = QemuImg.run("rebase", "-p", "-b", "", p("q-top.qcow2").toString());
        Cli.Run ourRebase = Cli.run("img", "rebase", "-p", "-b", "", p("v-top.qcow2").toString());
        assertThat(progressShape(ourRebase.out())).isEqualTo(progressShape(qemuRebase.out()));
    }

    @Test
    void snapshotNamesThatBeginWithADashAsQemuImgsGetoptTakesThem() {
        List<List<String>> runs = List.of(List.of("-c", "-x"), List.of("-c", "-l"), List.of("-c", "-y", "--"),
                List.of("-c-z"), List.of("-d", "-x"), List.of("-l", "--"));
        for (String tool : List.of("q", "v")) {
            QemuImg.ok("create", "-q", "-f", "qcow2", p(tool + ".qcow2").toString(), "1M");
        }
        for (List<String> args : runs) {
            String[] q = Differential.prepend("snapshot", Differential.prepend(args.get(0), args.subList(1, args.size())
                    .toArray(String[]::new)));
            Cli.Run qemu = QemuImg.run(append(q, p("q.qcow2").toString()));
            Cli.Run ours = Cli.run(Differential.prepend("img", append(q, p("v.qcow2").toString())));
            assertThat(ours.exitCode()).as("snapshot %s: %s / %s", args, ours.err(), qemu.err())
                    .isEqualTo(qemu.exitCode());
        }
        assertThat(names(QemuImg.ok("snapshot", "-l", p("v.qcow2").toString())))
                .isEqualTo(names(QemuImg.ok("snapshot", "-l", p("q.qcow2").toString())))
                .contains("-l", "-y", "-z");
    }

    private static String[] append(String[] args, String last) {
        String[] out = java.util.Arrays.copyOf(args, args.length + 1);
        out[args.length] = last;
        return out;
    }

    /** The TAG column of qemu-img snapshot -l. */
    private static List<String> names(String table) {
        return table.lines().skip(2).map(l -> l.substring(10).split("\\s+")[0]).toList();
    }
}
