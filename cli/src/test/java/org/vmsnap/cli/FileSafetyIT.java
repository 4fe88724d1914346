package org.vmsnap.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.testkit.BadImage;
import org.vmsnap.testkit.BadImages;
import org.vmsnap.testkit.QemuImg;
import org.vmsnap.testkit.QemuIoHolder;

/**
 * The img verbs that make a file never remove, truncate or replace one they did not make: an
 * existing target (a text file, an image a running qemu-io holds, an empty folder) is refused
 * with one line and left exactly as it was, also when the README's examples are run twice; a
 * convert that fails half-way removes only the output it created.
 */
class FileSafetyIT {
    @TempDir
    Path dir;

    private String file(String name) {
        return dir.resolve(name).toString();
    }

    private static void refusedUnchanged(Path target, byte[] before, String... args) throws IOException {
        Cli.Run r = Cli.run(args);
        assertThat(r.exitCode()).as("%s", String.join(" ", args)).isEqualTo(1);
        assertThat(r.err().lines()).as("one line: %s", r.err()).hasSize(1);
        assertThat(r.err()).startsWith("vmsnap: ").contains(target.toString());
        assertThat(r.out()).as("no Formatting line for a create that fails").doesNotContain("Formatting");
        assertThat(target).exists();
        if (before != null) {
            assertThat(Files.readAllBytes(target)).as("bytes of %s", target).isEqualTo(before);
        }
    }

    private static String fingerprint(Path p) throws IOException {
        var a = Files.readAttributes(p, java.nio.file.attribute.BasicFileAttributes.class);
        return a.fileKey() + " " + a.size() + " " + a.lastModifiedTime().toInstant();
    }

    @Test
    void createAndConvertRefuseAnExistingFileAndLeaveIt() throws IOException {
        Path text = Files.writeString(dir.resolve("keep.txt"), "hello\n");
        byte[] hello = Files.readAllBytes(text);
        Path source = dir.resolve("source.qcow2");
        QemuImg.create(source, "qcow2", 1 << 20);
        refusedUnchanged(text, hello, "img", "create", "-f", "qcow2", text.toString(), "10M");
        refusedUnchanged(text, hello, "img", "create", "-f", "raw", text.toString(), "10M");
        refusedUnchanged(text, hello, "img", "convert", "-O", "qcow2", source.toString(), text.toString());
        refusedUnchanged(text, hello, "img", "convert", "-c", "-O", "qcow2", source.toString(), text.toString());
        refusedUnchanged(text, hello, "img", "convert", "-O", "raw", source.toString(), text.toString());
    }

    @Test
    void createRefusesAnImageARunningQemuHolds() throws Exception {
        Path held = dir.resolve("held.qcow2");
        QemuImg.create(held, "qcow2", 1 << 20);
        byte[] before = Files.readAllBytes(held);
        Path source = dir.resolve("source.qcow2");
        QemuImg.create(source, "qcow2", 1 << 20);
        try (QemuIoHolder holder = new QemuIoHolder(held, "qcow2")) {
            refusedUnchanged(held, before, "img", "create", "-f", "qcow2", held.toString(), "10M");
            refusedUnchanged(held, before, "img", "convert", "-O", "qcow2", source.toString(), held.toString());
        }
    }

    @Test
    void createRefusesAFolderAndKeepsIt() throws IOException {
        Path empty = Files.createDirectory(dir.resolve("empty"));
        refusedUnchanged(empty, null, "img", "create", "-f", "qcow2", empty.toString(), "10M");
        assertThat(empty).isDirectory();
        Path full = Files.createDirectory(dir.resolve("full"));
        Files.writeString(full.resolve("inside"), "x");
        refusedUnchanged(full, null, "img", "create", "-f", "raw", full.toString(), "10M");
        assertThat(full.resolve("inside")).hasContent("x");
    }

    @Test
    void theReadmeExamplesRunTwiceKeepTheFirstRunsFiles() throws IOException {
        String a = file("a.qcow2");
        String top = file("top.qcow2");
        String[][] examples = {
            {"img", "create", "-f", "qcow2", "-o", "cluster_size=4096,refcount_bits=64", a, "3G"},
            {"img", "create", "-f", "qcow2", "-b", "a.qcow2", "-F", "qcow2", top},
            {"img", "convert", "-O", "raw", top, file("flat.raw")},
            {"img", "convert", "-c", "-O", "qcow2", "-o", "compression_type=zstd", top, file("small.qcow2")},
        };
        for (String[] e : examples) {
            assertThat(Cli.run(e).exitCode()).as("first run of %s", String.join(" ", e)).isZero();
        }
        for (String[] e : examples) {
            Path target = Path.of(e[e.length - 1].equals("3G") ? e[e.length - 2] : e[e.length - 1]);
            // flat.raw is 3 GiB (sparse): its inode, size and time show it untouched, not its bytes
            String before = fingerprint(target);
            refusedUnchanged(target, null, e);
            assertThat(fingerprint(target)).as("inode, size and modification time of %s", target).isEqualTo(before);
        }
        assertThat(QemuImg.check(Path.of(a)).exitCode()).isZero();
        assertThat(QemuImg.check(Path.of(top)).exitCode()).isZero();
    }

    @Test
    void aConvertThatFailsHalfWayRemovesOnlyTheOutputItMade() throws IOException {
        List<BadImage> cases = BadImages.generate(dir.resolve("bad"));
        Path broken = BadImages.byName(cases, "compressed-garbage").file();
        Path out = dir.resolve("out.qcow2");
        Cli.Run r = Cli.run("img", "convert", "-O", "qcow2", broken.toString(), out.toString());
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err().lines()).hasSize(1);
        assertThat(r.err()).contains(broken.toString()).contains("the incomplete " + out + " was removed");
        assertThat(out).doesNotExist();
        assertThat(broken).exists();
    }
}
