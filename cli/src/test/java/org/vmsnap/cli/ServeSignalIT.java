package org.vmsnap.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code vmsnap serve} as its own process (the shaded jar): it answers with the token it printed
 * until SIGINT or SIGTERM, then stops, its port is closed and its token file is gone.
 */
class ServeSignalIT {
    private static final Pattern URL = Pattern.compile("vmsnap serve: open (http://127\\.0\\.0\\.1:\\d+)/\\?token=([0-9a-f]{64})");

    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"INT", "TERM"})
    void aSignalStopsItAndRemovesTheTokenFile(String signal) throws Exception {
        Path home = tmp.resolve("home");
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-jar", Path.of("target", "vmsnap.jar").toAbsolutePath().toString(),
                "serve", "--listen", "127.0.0.1:0");
        pb.environment().put("VMSNAP_HOME", home.toString());
        pb.redirectErrorStream(true);
        Process p = pb.start();
        try (HttpClient client = HttpClient.newHttpClient()) {
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            Matcher m = URL.matcher(out.readLine());
            assertThat(m.find()).isTrue();
            String origin = m.group(1);
            String token = m.group(2);
            assertThat(Files.readString(home.resolve("serve-token")).strip()).isEqualTo(token);
            HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(origin + "/api/domains"))
                    .header("Authorization", "Bearer " + token).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.body()).isEqualTo("[]\n");

            Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(p.pid())).start();
            assertThat(kill.waitFor()).isZero();
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
            // The JVM's exit status after a signal it handled by running its hooks: 128 + the signal.
            assertThat(p.exitValue()).isEqualTo(signal.equals("INT") ? 130 : 143);
            assertThat(home.resolve("serve-token")).doesNotExist();
            List<String> rest = out.lines().toList();
            assertThat(rest).as("nothing more printed, no trace").allMatch(l -> !l.contains("Exception"));
            try {
                client.send(HttpRequest.newBuilder(URI.create(origin + "/api/domains")).build(),
                        HttpResponse.BodyHandlers.ofString());
                throw new AssertionError("the port still answers after the signal");
            } catch (IOException expected) {
                // connection refused: the server is gone
            }
        } finally {
            p.destroyForcibly();
        }
    }

    /**
     * The shaded jar on a UNIX socket (Jetty, its services and log provider merged into the jar):
     * it answers through curl --unix-socket, prints nothing of Jetty's or slf4j's, and SIGTERM
     * removes the socket and the token file.
     */
    @Test
    void theJarServesOnASocketUntilSigterm() throws Exception {
        Path home = tmp.resolve("home");
        Path socket = tmp.resolve("vmsnap.sock");
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-jar", Path.of("target", "vmsnap.jar").toAbsolutePath().toString(),
                "serve", "--socket", socket.toString());
        pb.environment().put("VMSNAP_HOME", home.toString());
        pb.redirectErrorStream(true);
        Process p = pb.start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            assertThat(out.readLine()).isEqualTo("vmsnap serve: listening on unix:" + socket
                    + " (mode 0600, removed on exit)");
            String token = Files.readString(home.resolve("serve-token")).strip();
            // serve takes the CLI's short commands too, and lets go of them on exit.
            Path cli = Path.of(Files.readAllLines(home.resolve(".daemon")).getFirst());
            assertThat(cli).exists();
            Process curl = new ProcessBuilder("curl", "-sS", "--unix-socket", socket.toString(), "-w", " %{http_code}",
                    "-H", "Authorization: Bearer " + token, "http://localhost/api/domains").redirectErrorStream(true).start();
            assertThat(new String(curl.getInputStream().readAllBytes(), StandardCharsets.UTF_8)).isEqualTo("[]\n 200");
            assertThat(new ProcessBuilder("kill", "-TERM", Long.toString(p.pid())).start().waitFor()).isZero();
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).isEqualTo(143);
            assertThat(socket).doesNotExist();
            assertThat(home.resolve("serve-token")).doesNotExist();
            assertThat(cli).doesNotExist();
            assertThat(home.resolve(".daemon")).doesNotExist();
            List<String> rest = out.lines().toList();
            assertThat(rest).as("after the address: the token file's line only").hasSize(1)
                    .allMatch(l -> l.startsWith("vmsnap serve: the token is also in "));
        } finally {
            p.destroyForcibly();
        }
    }
}
