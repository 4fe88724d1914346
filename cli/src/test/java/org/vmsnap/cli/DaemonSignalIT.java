package org.vmsnap.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.qcow2.Qcow2CreateOptions;
import org.vmsnap.qcow2.Qcow2Image;
import org.vmsnap.testkit.ShutOffDomainXml;

/**
 * {@code vmsnap daemon} and the launcher's client as their own processes (the shaded jar): the
 * client, started in another folder, has a relative overlay name land in its folder and gets the
 * command's output and exit code; SIGTERM stops the daemon and removes its socket, FIFO and marker, after
 * which the client answers 250 (run it yourself) and prints nothing.
 */
class DaemonSignalIT {
    @TempDir
    Path tmp;

    @Test
    void aClientInAnotherFolderThenSigterm() throws Exception {
        Path home = tmp.resolve("home");
        Path user = Files.createDirectories(tmp.resolve("user folder"));
        Path a = tmp.resolve("a.qcow2");
        Path b = tmp.resolve("b.qcow2");
        Qcow2Image.create(a, Qcow2CreateOptions.ofSize(1 << 20)).close();
        Qcow2Image.create(b, Qcow2CreateOptions.ofSize(1 << 20)).close();
        Path xml = Files.writeString(tmp.resolve("vm.xml"), ShutOffDomainXml.of("vm", a, b));
        assertThat(vmsnap(home, tmp, "-jar", "define", xml.toString()).exitValue()).isZero();

        ProcessBuilder pb = new ProcessBuilder(java(), "--enable-native-access=ALL-UNNAMED", "-jar", jar(), "daemon")
                .directory(tmp.toFile()).redirectErrorStream(true);
        pb.environment().put("VMSNAP_HOME", home.toString());
        Process d = pb.start();
        try {
            BufferedReader log = new BufferedReader(new InputStreamReader(d.getInputStream(), StandardCharsets.UTF_8));
            String first = log.readLine();
            assertThat(first).startsWith("vmsnap daemon: serving " + home + " on ").endsWith(".sock; Ctrl-C stops");
            List<String> marker = Files.readAllLines(home.resolve(".daemon"));
            Path socket = Path.of(marker.getFirst());
            Path fifo = Path.of(marker.get(1)); // the launcher's way in (ShellClientTest)
            assertThat(fifo).exists();
            assertThat(first).contains(socket.toString());

            Process c = vmsnap(home, user, socket.toString(), "snapshot-create-as", "vm", "s1", "--disk-only",
                    "--diskspec", "vda,file=-new a.qcow2", "--diskspec", "vdb,snapshot=no");
            assertThat(out(c)).startsWith("Domain snapshot s1 created\n");
            assertThat(c.exitValue()).isZero();
            assertThat(user.resolve("-new a.qcow2")).isRegularFile();
            assertThat(log.readLine()).contains("snapshot-create-as: exit 0 in ");
            Process missing = vmsnap(home, user, socket.toString(), "domstate", "nosuch");
            assertThat(err(missing)).isEqualTo("vmsnap: failed to get domain 'nosuch'\n");
            assertThat(missing.exitValue()).isEqualTo(1);

            assertThat(new ProcessBuilder("kill", "-TERM", Long.toString(d.pid())).start().waitFor()).isZero();
            assertThat(d.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(d.exitValue()).isEqualTo(143);
            assertThat(socket).doesNotExist();
            assertThat(fifo).doesNotExist();
            assertThat(home.resolve(".daemon")).doesNotExist();
            List<String> rest = log.lines().toList();
            assertThat(rest).allMatch(l -> l.startsWith("vmsnap daemon: ") && !l.contains("Exception"));
            Process after = vmsnap(home, user, socket.toString(), "domstate", "vm");
            assertThat(out(after)).isEmpty();
            assertThat(after.exitValue()).isEqualTo(250);
        } finally {
            d.destroyForcibly();
        }
    }

    /**
     * The daemon the launcher starts (--idle-exit, --no-start) serves, then stops by itself once
     * no command came for the time given: exit 0, its socket, FIFO and marker gone, and the
     * launcher's spawn stamp too (the next command may start another at once).
     */
    @Test
    void anIdleDaemonStopsByItselfAndCleansUp() throws Exception {
        Path home = Files.createDirectories(tmp.resolve("home"));
        Files.writeString(home.resolve(".daemon.spawn"), "1796670000\n");
        Path scratch = Path.of(System.getProperty("java.io.tmpdir"));
        List<Path> before = warmUps(scratch);
        ProcessBuilder pb = new ProcessBuilder(java(), "--enable-native-access=ALL-UNNAMED", "-jar", jar(), "daemon",
                "--no-start", "--warm-up", "--idle-exit=2").directory(tmp.toFile()).redirectErrorStream(true);
        pb.environment().put("VMSNAP_HOME", home.toString());
        Process d = pb.start();
        try {
            BufferedReader log = new BufferedReader(new InputStreamReader(d.getInputStream(), StandardCharsets.UTF_8));
            assertThat(log.readLine()).endsWith("; Ctrl-C stops, as do 2 s without a command");
            List<String> marker = Files.readAllLines(home.resolve(".daemon"));
            Path socket = Path.of(marker.getFirst());
            Process c = vmsnap(home, tmp, socket.toString(), "domstate", "nosuch");
            assertThat(err(c)).isEqualTo("vmsnap: failed to get domain 'nosuch'\n");
            assertThat(log.readLine()).contains("domstate: exit 1 in ");
            Process start = vmsnap(home, tmp, socket.toString(), "start", "nosuch");
            assertThat(out(start) + err(start)).as("declined: the client runs it").isEmpty();
            assertThat(start.exitValue()).isEqualTo(250);
            assertThat(d.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(d.exitValue()).isZero();
            List<String> rest = log.lines().toList();
            // The warm-up ran beside the commands (or was cut short by the stop) and left nothing.
            assertThat(rest).contains("vmsnap daemon: stopping: no command for 2 s")
                    .anyMatch(l -> l.matches("vmsnap daemon: .* warm-up: [0-9]+ rounds in [0-9]+ ms"))
                    .allMatch(l -> l.startsWith("vmsnap daemon: ") && !l.contains("Exception"));
            assertThat(warmUps(scratch)).isEqualTo(before);
            // Nor a record of its scratch image among the verified images.
            Path records = home.resolve("verified-images");
            if (Files.isDirectory(records)) {
                try (java.util.stream.Stream<Path> s = Files.list(records)) {
                    assertThat(s.toList()).isEmpty();
                }
            }
            assertThat(socket).doesNotExist();
            assertThat(Path.of(marker.get(1))).doesNotExist();
            assertThat(home.resolve(".daemon")).doesNotExist();
            assertThat(home.resolve(".daemon.spawn")).doesNotExist();
        } finally {
            d.destroyForcibly();
        }
        Process bad = new ProcessBuilder(java(), "--enable-native-access=ALL-UNNAMED", "-jar", jar(), "daemon",
                "--idle-exit=-5").directory(tmp.toFile()).start();
        assertThat(bad.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(err(bad)).isEqualTo("vmsnap: --idle-exit: -5 is negative; give SECONDS, or 0 for never\n");
        assertThat(bad.exitValue()).isEqualTo(1);
        assertThat(home.resolve(".daemon")).doesNotExist();
    }

    /** The warm-up folders in {@code dir}. */
    private static List<Path> warmUps(Path dir) throws java.io.IOException {
        try (java.util.stream.Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().startsWith("vmsnap-daemon-warm-up-")).sorted().toList();
        }
    }

    private static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    private static String jar() {
        return Path.of("target", "vmsnap.jar").toAbsolutePath().toString();
    }

    /** "-jar" and the args: the CLI in its own JVM; else the client with this socket and the args. */
    private static Process vmsnap(Path home, Path folder, String how, String... args) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of(java(), "--enable-native-access=ALL-UNNAMED"));
        if (how.equals("-jar")) {
            cmd.addAll(List.of("-jar", jar()));
        } else {
            cmd.addAll(List.of("-cp", jar(), "org.vmsnap.cli.daemon.Forward", how));
        }
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(folder.toFile());
        pb.environment().put("VMSNAP_HOME", home.toString());
        Process p = pb.start();
        p.waitFor(60, TimeUnit.SECONDS);
        return p;
    }

    private static String out(Process p) throws Exception {
        return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    }

    private static String err(Process p) throws Exception {
        return new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    }
}
