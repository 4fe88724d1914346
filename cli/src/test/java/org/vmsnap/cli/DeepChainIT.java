package org.vmsnap.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.vmsnap.cli.Differential.assertSame;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.testkit.QemuTools;

/**
 * A 256-deep chain built by qemu-img and qemu-io: vmsnap reads it as qemu-img does (map,
 * info --backing-chain, convert, compare), and commit and a stream (rebase onto the bottom)
 * give what qemu-img gives.
 */
class DeepChainIT {
    private static final int DEPTH = 256;
    private static final int SIZE_MIB = 16;

    @TempDir
    static Path shared;
    private static Path pristine;

    @TempDir
    Path dir;

    /** Built once: building takes most of this class's time. */
    @BeforeAll
    static void buildOnce() throws IOException {
        pristine = build(shared.resolve("pristine"));
    }

    /** A copy of the pristine chain in its own folder; returns its top. */
    private static Path copy(Path root) throws IOException {
        Files.createDirectories(root);
        try (var files = Files.list(pristine.getParent())) {
            for (Path f : files.toList()) {
                Files.copy(f, root.resolve(f.getFileName()));
            }
        }
        return root.resolve(pristine.getFileName());
    }

    /**
     * l0 (full of 0x01) <- l1 <- ... <- l256. Layer i writes a 64 KiB cluster at cluster
     * (i * 37) mod 256, a 4 KiB piece at cluster i mod 256, and every 16th layer zeroes a
     * cluster. The layers are made with -u (no chain opened) and written in one qemu-io
     * process that opens each without its backing file, so building takes seconds.
     */
    private static Path build(Path root) throws IOException {
        Files.createDirectories(root);
        QemuImg.ok("create", "-q", "-f", "qcow2", root.resolve("l0.qcow2").toString(), SIZE_MIB + "M");
        for (int i = 1; i <= DEPTH; i++) {
            QemuImg.ok("create", "-q", "-f", "qcow2", "-u", "-b", "l" + (i - 1) + ".qcow2", "-F", "qcow2",
                    root.resolve("l" + i + ".qcow2").toString(), SIZE_MIB + "M");
        }
        List<String> commands = new ArrayList<>();
        commands.add(open(root, 0));
        commands.add("write -q -P 0x01 0 " + SIZE_MIB + "M");
        commands.add("close");
        for (int i = 1; i <= DEPTH; i++) {
            commands.add(open(root, i));
            int pattern = 2 + i % 250;
            commands.add("write -q -P " + pattern + " " + (i * 37 % 256) * 65536L + " 64k");
            commands.add("write -q -P " + pattern + " " + ((i % 256) * 65536L + 8192) + " 4k");
            if (i % 16 == 0) {
                commands.add("write -q -z " + ((i * 7 + 3) % 256) * 65536L + " 64k");
            }
            commands.add("close");
        }
        List<String> args = new ArrayList<>(List.of(QemuTools.qemuIo().toString()));
        for (String c : commands) {
            args.add("-c");
            args.add(c);
        }
        QemuTools.Result io = QemuTools.run(args);
        assertThat(io.exitCode()).as(io.stderr()).isZero();
        assertThat(io.stdout() + io.stderr()).doesNotContain("failed").doesNotContain("can't open");
        return root.resolve("l" + DEPTH + ".qcow2");
    }

    /** qemu-io's open of one layer alone: JSON options with no backing file. */
    private static String open(Path root, int layer) {
        return "open json:{\"driver\":\"qcow2\",\"backing\":null,\"file\":{\"driver\":\"file\",\"filename\":\""
                + root.resolve("l" + layer + ".qcow2") + "\"}}";
    }

    @Test
    void aDeepChainReadsLikeQemuReadsIt() throws IOException {
        Path top = pristine;
        assertSame("map", "--output=json", top.toString());
        assertSame("info", "--backing-chain", "--output=json", top.toString());
        Path theirs = dir.resolve("qemu.raw");
        Path ours = dir.resolve("vmsnap.raw");
        QemuImg.ok("convert", "-O", "raw", top.toString(), theirs.toString());
        Cli.Run convert = Cli.run("img", "convert", "-O", "raw", top.toString(), ours.toString());
        assertThat(convert.exitCode()).as(convert.err()).isZero();
        assertThat(Files.mismatch(ours, theirs)).isEqualTo(-1);
        assertSame("compare", top.toString(), theirs.toString());
        assertSame("compare", top.toString(), top.resolveSibling("l128.qcow2").toString());
    }

    @Test
    void commitAndStreamOnADeepChainGiveWhatQemuGives() throws IOException {
        Path q = copy(dir.resolve("q"));
        Path v = copy(dir.resolve("v"));
        Path flat = dir.resolve("before.raw");
        QemuImg.ok("convert", "-O", "raw", q.toString(), flat.toString());

        QemuImg.ok("commit", "-q", q.toString());
        Cli.Run commit = Cli.run("img", "commit", "-q", v.toString());
        assertThat(commit.exitCode()).as(commit.err()).isZero();
        for (String layer : List.of("l256.qcow2", "l255.qcow2")) {
            assertThat(QemuImg.run("compare", q.resolveSibling(layer).toString(), v.resolveSibling(layer).toString())
                    .out()).as(layer).isEqualTo("Images are identical.\n");
            assertThat(QemuImg.run("check", v.resolveSibling(layer).toString()).exitCode()).as(layer).isZero();
        }
        // Stream the whole chain into the top: rebase onto the bottom layer.
        QemuImg.ok("rebase", "-b", "l0.qcow2", "-F", "qcow2", q.toString());
        Cli.Run rebase = Cli.run("img", "rebase", "-b", "l0.qcow2", "-F", "qcow2", v.toString());
        assertThat(rebase.exitCode()).as(rebase.err()).isZero();
        assertThat(QemuImg.run("compare", v.toString(), flat.toString()).out()).isEqualTo("Images are identical.\n");
        assertThat(QemuImg.run("compare", v.toString(), q.toString()).out()).isEqualTo("Images are identical.\n");
        assertThat(QemuImg.run("check", v.toString()).exitCode()).isZero();
        assertThat(ChainDifferentialIT.runs(QemuImg.ok("map", "--output=json", v.toString()), false))
                .isEqualTo(ChainDifferentialIT.runs(QemuImg.ok("map", "--output=json", q.toString()), false));
        assertSame("info", "--backing-chain", "--output=json", v.toString());
    }
}
