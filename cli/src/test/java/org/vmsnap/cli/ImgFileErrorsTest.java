package org.vmsnap.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * img errors about files: each is one line that names the file and the reason, and
 * {@code create} announces "Formatting ..." only when nothing is left to refuse. (The wording
 * is qemu-img's: {@code ImgFileErrorsIT} compares it with qemu-img 7.2.)
 */
class ImgFileErrorsTest {

    @TempDir
    Path dir;

    private String file(String name) {
        return dir.resolve(name).toString();
    }

    private static void oneLine(Cli.Run r, String expected) {
        assertThat(r.exitCode()).as("exit code; stderr: %s", r.err()).isEqualTo(1);
        assertThat(r.err()).isEqualTo("vmsnap: " + expected + "\n");
    }

    @Test
    void aFolderGivenAsAnImageIsNamedWithTheReason() throws IOException {
        String folder = Files.createDirectories(dir.resolve("folder")).toString();
        String reason = "Could not open '" + folder + "': 'file' driver requires '" + folder + "' to be a regular file";
        for (List<String> args : List.of(List.of("info", folder), List.of("check", folder), List.of("map", folder),
                List.of("snapshot", "-l", folder), List.of("convert", "-O", "raw", folder, file("out.raw")),
                List.of("resize", folder, "1M"), List.of("snapshot", "-c", "s", folder), List.of("commit", folder))) {
            Cli.Run r = Cli.run(Differential.prepend("img", args.toArray(String[]::new)));
            assertThat(r.err()).as("%s", args).isEqualTo("vmsnap: " + reason + "\n");
        }
        assertThat(Cli.run("img", "compare", folder, folder).exitCode()).isEqualTo(2);
    }

    @Test
    void createOntoAFolderOrIntoAMissingOneSaysWhy() throws IOException {
        String folder = Files.createDirectories(dir.resolve("folder")).toString();
        Files.writeString(dir.resolve("folder/inside"), "x");
        for (String format : List.of("raw", "qcow2")) {
            Cli.Run onFolder = Cli.run("img", "create", "-f", format, folder, "1M");
            oneLine(onFolder, folder + ": Could not create '" + folder + "': Is a directory");
            assertThat(onFolder.out()).isEmpty();
            String missing = file("no-such-folder/x." + format);
            oneLine(Cli.run("img", "create", "-f", format, missing, "1M"),
                    missing + ": Could not create '" + missing + "': No such file or directory");
            String underFile = file("folder/inside/x");
            oneLine(Cli.run("img", "create", "-f", format, underFile, "1M"),
                    underFile + ": Could not create '" + underFile + "': Not a directory");
        }
        assertThat(Files.readString(dir.resolve("folder/inside"))).isEqualTo("x");
    }

    @Test
    void convertOntoAFolderOrIntoAMissingOneSaysWhy() throws IOException {
        String src = file("src.raw");
        assertThat(Cli.run("img", "create", "-q", src, "1M").exitCode()).isZero();
        String folder = Files.createDirectories(dir.resolve("folder")).toString();
        oneLine(Cli.run("img", "convert", "-O", "qcow2", src, folder),
                folder + ": error while converting qcow2: Could not create '" + folder + "': Is a directory");
        String missing = file("no-such-folder/out.raw");
        oneLine(Cli.run("img", "convert", "-O", "raw", src, missing),
                missing + ": error while converting raw: Could not create '" + missing
                        + "': No such file or directory");
    }

    @Test
    void createAnnouncesTheImageOnlyWhenItWillMakeIt() throws IOException {
        Path existing = dir.resolve("existing.qcow2");
        Files.writeString(existing, "keep me");
        String[][] refused = {
            {"-f", "qcow2", existing.toString(), "1M"},
            {"-f", "raw", existing.toString(), "1M"},
            {"-f", "qcow2", "-o", "cluster_size=3", file("a.qcow2"), "1M"},
            {"-f", "qcow2", "-o", "refcount_bits=3", file("a.qcow2"), "1M"},
            {"-f", "qcow2", "-o", "compat=0.10,lazy_refcounts=on", file("a.qcow2"), "1M"},
            {"-f", "qcow2", "-o", "preallocation=bogus", file("a.qcow2"), "1M"},
            {"-f", "qcow2", "-o", "cluster_size=512", file("a.qcow2"), "1P"},
            {"-f", "qcow2", "-u", "-b", "nbd:127.0.0.1:9", "-F", "raw", file("a.qcow2"), "1M"},
            {"-f", "qcow2", "-o", "backing_fmt=raw", file("a.qcow2"), "1M"},
        };
        for (String[] args : refused) {
            Cli.Run r = Cli.run(Differential.prepend("img", Differential.prepend("create", args)));
            assertThat(r.exitCode()).as("%s: %s", List.of(args), r.err()).isEqualTo(1);
            assertThat(r.out()).as("stdout of %s", List.of(args)).isEmpty();
            assertThat(r.err().lines()).as("stderr of %s", List.of(args)).hasSize(1);
        }
        assertThat(Files.readString(existing)).isEqualTo("keep me");
        assertThat(Files.exists(dir.resolve("a.qcow2"))).isFalse();

        Cli.Run made = Cli.run("img", "create", "-f", "qcow2", file("a.qcow2"), "1M");
        assertThat(made.exitCode()).as(made.err()).isZero();
        assertThat(made.out()).startsWith("Formatting '" + file("a.qcow2") + "', fmt=qcow2 ");
    }
}
