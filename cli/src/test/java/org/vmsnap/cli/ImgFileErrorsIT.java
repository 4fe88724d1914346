package org.vmsnap.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * img errors about files next to qemu-img 7.2's for the same inputs: a missing file, a folder,
 * a missing parent folder, no permission. The line is qemu-img's, with "vmsnap: " for
 * "qemu-img: " and without the second "Could not open 'F': " that qemu-img repeats; the exit
 * code is qemu-img's.
 */
class ImgFileErrorsIT {

    @TempDir
    Path dir;

    private final SoftAssertions soft = new SoftAssertions();

    /** qemu-img's error line as vmsnap words it. */
    private static String expected(Cli.Run qemu) {
        String line = qemu.err().lines().findFirst().orElse("");
        return line.replaceFirst("^qemu-img: ", "vmsnap: ").replaceAll("(Could not open '[^']*': )\\1", "$1");
    }

    private void same(Cli.Run qemu, Cli.Run ours, String what) {
        soft.assertThat(ours.err()).as("stderr of %s", what).isEqualTo(expected(qemu) + "\n");
        soft.assertThat(ours.exitCode()).as("exit code of %s", what).isEqualTo(qemu.exitCode());
    }

    private void same(String... args) {
        same(QemuImg.run(args), Cli.run(Differential.prepend("img", args)), String.join(" ", args));
    }

    @Test
    void missingFilesFoldersAndMissingFoldersAsQemuImgSaysThem() throws IOException {
        String missing = dir.resolve("missing.qcow2").toString();
        String folder = Files.createDirectories(dir.resolve("folder")).toString();
        Files.writeString(dir.resolve("folder/file"), "x");
        String image = dir.resolve("image.qcow2").toString();
        QemuImg.ok("create", "-q", "-f", "qcow2", image, "1M");
        for (String bad : List.of(missing, folder)) {
            same("info", bad);
            same("info", "--output=json", bad);
            same("check", bad);
            same("map", bad);
            same("snapshot", "-l", bad);
            same("compare", bad, image);
            same("compare", image, bad);
            same("convert", "-O", "raw", bad, dir.resolve("out.raw").toString());
        }
        for (String verb : List.of("resize", "commit")) {
            same(verb.equals("resize") ? new String[] {verb, missing, "2M"} : new String[] {verb, missing});
        }
        same("snapshot", "-c", "s", missing);
        for (String format : List.of("raw", "qcow2")) {
            // Both fail; qemu-img prints its "Formatting" line first, vmsnap does not.
            for (String target : List.of(folder, dir.resolve("no-such-folder/x").toString(),
                    dir.resolve("folder/file/x").toString())) {
                same(QemuImg.run("create", "-f", format, target, "1M"),
                        Cli.run("img", "create", "-f", format, target, "1M"), "create -f " + format + " " + target);
                same("convert", "-O", format, image, target);
            }
        }
        soft.assertAll();
    }

    /** Runs {@code cmd} as user nobody when this test runs as root (root reads every file). */
    private static Cli.Run unprivileged(List<String> cmd) throws IOException, InterruptedException {
        List<String> full = new ArrayList<>();
        if ("root".equals(System.getProperty("user.name"))) {
            full.addAll(List.of("runuser", "-u", "nobody", "--"));
        }
        full.addAll(cmd);
        ProcessBuilder pb = new ProcessBuilder(full);
        pb.environment().put("LC_ALL", "C");
        Process p = pb.start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        return new Cli.Run(p.exitValue(), out, err);
    }

    private static Cli.Run bothWays(boolean vmsnap, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        if (vmsnap) {
            cmd.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "--enable-native-access=ALL-UNNAMED", "-jar", Path.of("target", "vmsnap.jar").toAbsolutePath()
                            .toString(), "img"));
        } else {
            cmd.add("qemu-img");
        }
        cmd.addAll(List.of(args));
        return unprivileged(cmd);
    }

    @Test
    void permissionDeniedAsQemuImgSaysIt() throws Exception {
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path secret = dir.resolve("secret.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", secret.toString(), "1M");
        Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("rw-------"));
        Path readOnlyFolder = Files.createDirectories(dir.resolve("ro"));
        Files.setPosixFilePermissions(readOnlyFolder, PosixFilePermissions.fromString("r-xr-xr-x"));
        Path image = dir.resolve("image.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", image.toString(), "1M");
        Files.setPosixFilePermissions(image, PosixFilePermissions.fromString("rw-r--r--"));
        String[][] cases = {
            {"info", secret.toString()},
            {"check", secret.toString()},
            {"map", secret.toString()},
            {"snapshot", "-c", "s", secret.toString()},
            {"create", "-f", "qcow2", readOnlyFolder.resolve("x.qcow2").toString(), "1M"},
            {"create", "-f", "raw", readOnlyFolder.resolve("x.raw").toString(), "1M"},
            {"convert", "-O", "qcow2", image.toString(), readOnlyFolder.resolve("o.qcow2").toString()},
        };
        for (String[] args : cases) {
            same(bothWays(false, args), bothWays(true, args), String.join(" ", args));
        }
        soft.assertAll();
    }
}
