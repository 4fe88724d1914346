package org.vmsnap.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad chains and refused chain operations through the command line, next to qemu-img: the
 * same exit code, one line on stderr naming the image, and no file changed. Includes
 * commit and rebase of images a running qemu-io holds.
 */
class ChainBadInputIT {

    @TempDir
    Path dir;

    private final List<Process> started = new ArrayList<>();

    @AfterEach
    void reap() throws InterruptedException {
        for (Process p : started) {
            p.destroy();
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor();
            }
        }
    }

    private Map<String, String> digests() throws IOException {
        Map<String, String> all = new TreeMap<>();
        try (var files = Files.walk(dir)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                try {
                    all.put(dir.relativize(f).toString(), HexFormat.of().formatHex(
                            MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(f))));
                } catch (NoSuchAlgorithmException e) {
                    throw new AssertionError(e);
                }
            }
        }
        return all;
    }

    /** vmsnap fails with one line naming {@code image} (and qemu-img fails too when {@code qemuFails}). */
    private void refused(boolean qemuFails, Path image, String expected, String... args) throws IOException {
        // compare reports errors with exit code 2 (1 means "different"), as qemu-img does
        int exitCode = args[0].equals("compare") ? 2 : 1;
        Map<String, String> before = digests();
        Cli.Run ours = Cli.run(Differential.prepend("img", args));
        String what = String.join(" ", args);
        assertThat(ours.exitCode()).as(what + ": " + ours.err()).isEqualTo(exitCode);
        assertThat(ours.out()).as(what).isEmpty();
        assertThat(ours.err().lines().toList()).as(what).hasSize(1);
        assertThat(ours.err()).as(what).startsWith("vmsnap: ").contains(image.toString()).contains(expected);
        assertThat(digests()).as(what + ": files unchanged").isEqualTo(before);
        if (qemuFails) {
            Cli.Run qemu = QemuImg.run(args);
            assertThat(qemu.exitCode()).as("qemu-img " + what + ": " + qemu.err()).isEqualTo(exitCode);
        }
    }

    /** Every command that opens the chain refuses it the same way. */
    private void chainRefused(boolean qemuFails, Path top, String expected) throws IOException {
        Path out = dir.resolve("out.raw");
        refused(qemuFails, top, expected, "info", "--backing-chain", top.toString());
        refused(qemuFails, top, expected, "map", "--output=json", top.toString());
        refused(qemuFails, top, expected, "convert", "-O", "raw", top.toString(), out.toString());
        assertThat(out).doesNotExist();
        refused(qemuFails, top, expected, "compare", top.toString(), top.toString());
        refused(qemuFails, top, expected, "commit", top.toString());
        refused(qemuFails, top, expected, "rebase", "-b", "", top.toString());
    }

    private Path overlay(String name, String backing, String format) {
        Path p = dir.resolve(name);
        QemuImg.ok("create", "-q", "-f", "qcow2", "-u", "-b", backing, "-F", format, p.toString(), "1M");
        return p;
    }

    @Test
    void missingBackingFile() throws IOException {
        chainRefused(true, overlay("top.qcow2", "gone.qcow2", "qcow2"), "'gone.qcow2' not found");
    }

    @Test
    void unreadableBackingFile() throws IOException {
        Files.createDirectory(dir.resolve("folder.qcow2"));
        chainRefused(true, overlay("top.qcow2", "folder.qcow2", "qcow2"), "'folder.qcow2'");
    }

    @Test
    void backingFileOfTheWrongFormat() throws IOException {
        Files.write(dir.resolve("plain.img"), new byte[1 << 20]);
        chainRefused(true, overlay("top.qcow2", "plain.img", "qcow2"), "not a qcow2");
    }

    @Test
    void protocolBackingNames() throws IOException {
        chainRefused(true, overlay("nbd.qcow2", "nbd:localhost:1", "raw"), "protocol prefix");
        // qemu-img follows json: names (here to a host file); vmsnap never does.
        chainRefused(false, overlay("json.qcow2",
                "json:{\"driver\":\"raw\",\"file\":{\"driver\":\"file\",\"filename\":\"/etc/hostname\"}}", "raw"),
                "protocol prefix");
    }

    @Test
    void backingChainCycle() throws IOException {
        Path a = overlay("a.qcow2", "b.qcow2", "qcow2");
        overlay("b.qcow2", "a.qcow2", "qcow2");
        // qemu-img info sees the loop; qemu-img map 7.2 does not (it runs until memory runs out).
        Cli.Run qemu = QemuImg.run("info", "--backing-chain", a.toString());
        assertThat(qemu.exitCode()).isEqualTo(1);
        assertThat(qemu.err()).contains("creates an infinite loop");
        chainRefused(false, a, "creates an infinite loop");
    }

    @Test
    void commitAndRebaseOfImagesInUse() throws Exception {
        Path base = dir.resolve("base.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", base.toString(), "4M");
        QemuImg.io(base, "qcow2", "write -P 1 0 1M");
        Path top = overlay("top.qcow2", "base.qcow2", "qcow2");
        QemuImg.io(top, "qcow2", "write -P 2 0 64k");
        hold(top, false);
        refused(true, top, "Failed to get \"write\" lock", "commit", top.toString());
        refused(true, top, "Failed to get \"write\" lock", "rebase", "-b", "", top.toString());
        refused(true, top, "Failed to get \"write\" lock", "rebase", "-u", "-b", "base.qcow2", "-F", "qcow2",
                top.toString());
        reap();
        started.clear();
        hold(base, true);   // even a reader of the base refuses it a writer
        refused(true, base, "Failed to get \"write\" lock", "commit", top.toString());
    }

    @Test
    void commitIntoABaseOutsideTheChain() throws IOException {
        Path base = dir.resolve("base.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", base.toString(), "1M");
        QemuImg.ok("create", "-q", "-f", "qcow2", dir.resolve("other.qcow2").toString(), "1M");
        Path top = overlay("top.qcow2", "base.qcow2", "qcow2");
        QemuImg.io(top, "qcow2", "write -P 2 0 64k");
        Cli.Run qemu = QemuImg.run("commit", "-b", "other.qcow2", top.toString());
        assertThat(Differential.qemuErrors(qemu)).containsExactly("Did not find 'other.qcow2' in the backing chain of '"
                + top + "'");
        refused(true, top, "Did not find 'other.qcow2' in the backing chain of '" + top + "'",
                "commit", "-b", "other.qcow2", top.toString());
        refused(true, base, "Image does not have a backing file", "commit", base.toString());
        refused(true, top, "backing format must be specified", "rebase", "-b", "base.qcow2", top.toString());
    }

    /** A qemu-io process holding {@code image} open, read-write or read-only, until the test ends. */
    private void hold(Path image, boolean readOnly) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("qemu-io", "-f", "qcow2"));
        if (readOnly) {
            cmd.add("-r");
        }
        cmd.add(image.toString());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        started.add(p);
        OutputStream in = p.getOutputStream();
        in.write("read 0 512\n".getBytes(StandardCharsets.UTF_8));
        in.flush();
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        for (String line; (line = out.readLine()) != null; ) {
            if (line.contains("read 512/512 bytes")) {
                return; // the image is open and locked
            }
        }
        throw new AssertionError("qemu-io did not open " + image);
    }
}
