package org.vmsnap.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code -t cache} and {@code -T src_cache} next to qemu-img 7.2, run side by side: each verb
 * takes them where qemu-img does, refuses them with qemu-img's words where it refuses them
 * (a bad mode, or the option on a verb without it), and every accepted mode leaves images
 * that qemu-img compare finds equal to qemu-img's own results.
 */
class CacheModeIT {
    private static final List<String> MODES = List.of("none", "writeback", "unsafe", "directsync", "writethrough",
            "off");
    private static final List<String> BAD = List.of("bogus", "", "WRITEBACK", "None");

    @TempDir
    Path dir;

    /** A fresh chain in its own folder: base.qcow2 <- overlay.qcow2, and new.qcow2 to rebase onto. */
    private Path chain(String name) throws IOException {
        Path d = Files.createDirectories(dir.resolve(name));
        QemuImg.ok("create", "-q", "-f", "qcow2", d.resolve("base.qcow2").toString(), "4M");
        QemuImg.io(d.resolve("base.qcow2"), "qcow2", "write -P 0x11 0 1M", "write -P 0x12 2M 64k");
        QemuImg.ok("create", "-q", "-f", "qcow2", d.resolve("new.qcow2").toString(), "4M");
        QemuImg.io(d.resolve("new.qcow2"), "qcow2", "write -P 0x21 512k 1M");
        QemuImg.ok("create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2",
                d.resolve("overlay.qcow2").toString());
        QemuImg.io(d.resolve("overlay.qcow2"), "qcow2", "write -P 0x31 64k 128k", "write -z 2M 64k");
        return d;
    }

    /** The verb's arguments in folder {@code d}, {@code opt} and {@code mode} placed first. */
    private static List<String> args(String verb, Path d, String opt, String mode) {
        List<String> a = new ArrayList<>(List.of(verb, opt, mode));
        String overlay = d.resolve("overlay.qcow2").toString();
        switch (verb) {
            case "convert" -> a.addAll(List.of("-O", "qcow2", overlay, d.resolve("out.qcow2").toString()));
            case "commit" -> a.add(overlay);
            case "rebase" -> a.addAll(List.of("-b", "new.qcow2", "-F", "qcow2", overlay));
            case "check" -> a.add(overlay);
            case "compare" -> a.addAll(List.of(overlay, d.resolve("base.qcow2").toString()));
            default -> throw new IllegalArgumentException(verb);
        }
        return a;
    }

    /** The file whose contents the verb changed or made, to compare across the two tools. */
    private static Path result(String verb, Path d) {
        return switch (verb) {
            case "convert" -> d.resolve("out.qcow2");
            case "commit" -> d.resolve("base.qcow2");
            default -> d.resolve("overlay.qcow2");
        };
    }

    private static Cli.Run vmsnap(List<String> args) {
        List<String> a = new ArrayList<>(List.of("img"));
        a.addAll(args);
        return Cli.run(a.toArray(String[]::new));
    }

    /** The first line of stderr without the tool's own "name: " prefix. */
    private static String error(Cli.Run r, String tool) {
        String first = r.err().lines().findFirst().orElse("");
        return first.startsWith(tool + ": ") ? first.substring(tool.length() + 2) : first;
    }

    @Test
    void everyModeIsTakenWhereQemuImgTakesItAndGivesTheSameImages() throws IOException {
        String[][] cases = {{"convert", "-t"}, {"convert", "-T"}, {"commit", "-t"}, {"rebase", "-t"},
                {"rebase", "-T"}, {"check", "-T"}, {"compare", "-T"}};
        for (String[] c : cases) {
            for (String mode : MODES) {
                String what = String.join(" ", c) + " " + mode;
                Path q = chain("q-" + c[0] + c[1] + mode);
                Path v = chain("v-" + c[0] + c[1] + mode);
                Cli.Run qr = QemuImg.run(args(c[0], q, c[1], mode).toArray(String[]::new));
                Cli.Run vr = vmsnap(args(c[0], v, c[1], mode));
                assertThat(vr.exitCode()).as("%s: exit (qemu-img: %s; vmsnap: %s)", what, qr.err(), vr.err())
                        .isEqualTo(qr.exitCode());
                if (c[0].equals("check") || c[0].equals("compare")) {
                    assertThat(vr.out()).as(what).isEqualTo(qr.out());
                    continue;
                }
                assertThat(qr.exitCode()).as("%s by qemu-img: %s", what, qr.err()).isZero();
                Cli.Run same = QemuImg.run("compare", result(c[0], q).toString(), result(c[0], v).toString());
                assertThat(same.exitCode()).as("%s: qemu-img compare: %s", what, same.out()).isZero();
                assertThat(QemuImg.run("check", result(c[0], v).toString()).exitCode()).as(what).isZero();
            }
        }
    }

    @Test
    void aBadModeIsRefusedWithQemuImgsWordsAndNothingIsWritten() throws IOException {
        String[][] cases = {{"convert", "-t"}, {"convert", "-T"}, {"commit", "-t"}, {"rebase", "-t"},
                {"rebase", "-T"}, {"check", "-T"}, {"compare", "-T"}};
        for (String[] c : cases) {
            for (String mode : BAD) {
                String what = String.join(" ", c) + " '" + mode + "'";
                Path q = chain("q-bad-" + c[0] + c[1] + mode);
                Path v = chain("v-bad-" + c[0] + c[1] + mode);
                byte[] before = Files.readAllBytes(v.resolve("overlay.qcow2"));
                byte[] baseBefore = Files.readAllBytes(v.resolve("base.qcow2"));
                Cli.Run qr = QemuImg.run(args(c[0], q, c[1], mode).toArray(String[]::new));
                Cli.Run vr = vmsnap(args(c[0], v, c[1], mode));
                assertThat(qr.exitCode()).as(what).isNotZero();
                assertThat(vr.exitCode()).as("%s: exit", what).isEqualTo(qr.exitCode());
                assertThat(error(vr, "vmsnap")).as(what).isEqualTo(error(qr, "qemu-img"))
                        .startsWith(c[1].equals("-t") ? "Invalid cache option: " : "Invalid source cache option: ");
                assertThat(Files.readAllBytes(v.resolve("overlay.qcow2"))).as(what).isEqualTo(before);
                assertThat(Files.readAllBytes(v.resolve("base.qcow2"))).as(what).isEqualTo(baseBefore);
                // qemu-img convert creates its output before it looks at -t; vmsnap does not.
                assertThat(v.resolve("out.qcow2")).as(what).doesNotExist();
            }
        }
    }

    @Test
    void theOptionIsRefusedOnVerbsWhereQemuImgHasNone() throws IOException {
        String[][] cases = {{"create", "-t"}, {"check", "-t"}, {"commit", "-T"}, {"compare", "-t"},
                {"info", "-t"}, {"map", "-T"}, {"resize", "-t"}, {"snapshot", "-t"}};
        for (String[] c : cases) {
            Path d = chain("refused-" + c[0] + c[1]);
            String overlay = d.resolve("overlay.qcow2").toString();
            List<String> a = switch (c[0]) {
                case "create" -> List.of("create", c[1], "none", "-f", "qcow2", d.resolve("c.qcow2").toString(), "1M");
                case "resize" -> List.of("resize", c[1], "none", overlay, "8M");
                case "snapshot" -> List.of("snapshot", c[1], "none", "-l", overlay);
                case "compare" -> List.of("compare", c[1], "none", overlay, overlay);
                default -> List.of(c[0], c[1], "none", overlay);
            };
            Cli.Run qr = QemuImg.run(a.toArray(String[]::new));
            Cli.Run vr = vmsnap(a);
            String what = String.join(" ", a);
            assertThat(qr.exitCode()).as("qemu-img %s: %s", what, qr.err()).isNotZero();
            assertThat(vr.exitCode()).as("vmsnap %s: %s", what, vr.err()).isNotZero();
            assertThat(vr.err()).as(what).contains(c[1]);
            assertThat(d.resolve("c.qcow2")).as(what).doesNotExist();
        }
    }
}
