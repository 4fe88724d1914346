package org.vmsnap.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.qcow2.Qcow2CreateOptions;
import org.vmsnap.qcow2.Qcow2Image;
import org.vmsnap.testkit.ShutOffDomainXml;

/**
 * {@code vmsnap serve} run in this process on a free port: the address it prints once carries the
 * token, the API answers with it and refuses without it, an interrupt stops it and removes the
 * token file; a busy port and a bad --listen are one line each.
 */
class ServeCommandTest {
    private static final Pattern URL = Pattern.compile("vmsnap serve: open (http://127\\.0\\.0\\.1:(\\d+))/\\?token=([0-9a-f]{64})\n");

    @TempDir
    Path dir;
    HttpClient client = HttpClient.newHttpClient();

    @BeforeEach
    void home() throws IOException {
        System.setProperty("vmsnap.home", dir.resolve("home").toString());
        Path disk = dir.resolve("a.qcow2");
        Qcow2Image.create(disk, Qcow2CreateOptions.ofSize(1 << 20)).close();
        Path xml = Files.writeString(dir.resolve("vm1.xml"), ShutOffDomainXml.of("vm1", disk));
        assertThat(Cli.run("define", xml.toString()).exitCode()).isZero();
        assertThat(Cli.run("snapshot-create-as", "vm1", "s1").exitCode()).isZero();
    }

    @AfterEach
    void clear() {
        System.clearProperty("vmsnap.home");
        client.close();
    }

    /** A serve running in a thread until interrupted; its output so far. */
    private static final class Running {
        final StringWriter out = new StringWriter();
        final StringWriter err = new StringWriter();
        final AtomicInteger code = new AtomicInteger(-1);
        final Thread thread;

        Running(String... args) {
            thread = Thread.ofPlatform().start(() -> code.set(Main.run(new PrintWriter(out, true),
                    new PrintWriter(err, true), args)));
        }

        Matcher awaitUrl() throws InterruptedException {
            return await(URL);
        }

        Matcher await(Pattern p) throws InterruptedException {
            for (int i = 0; i < 600; i++) {
                Matcher m = p.matcher(out.toString());
                if (m.find()) {
                    return m;
                }
                assertThat(thread.isAlive()).as("serve ended: %s %s", out, err).isTrue();
                Thread.sleep(50);
            }
            throw new AssertionError("no address printed in 30 s: " + out + err);
        }

        int stop() throws InterruptedException {
            thread.interrupt();
            thread.join(30_000);
            assertThat(thread.isAlive()).isFalse();
            return code.get();
        }
    }

    private HttpResponse<String> get(String url, String token) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url));
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        return client.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void servesTheApiWithThePrintedTokenUntilInterrupted() throws Exception {
        Running serve = new Running("serve", "--listen", "127.0.0.1:0");
        Matcher m = serve.awaitUrl();
        String origin = m.group(1);
        String token = m.group(3);
        assertThat(Integer.parseInt(m.group(2))).isPositive();
        Path tokenFile = dir.resolve("home/serve-token");
        assertThat(Files.readString(tokenFile).strip()).isEqualTo(token);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(tokenFile))).isEqualTo("rw-------");
        // Printed once: the token appears in one line only.
        assertThat(serve.out.toString().split(token, -1)).hasSize(2);

        HttpResponse<String> domains = get(origin + "/api/domains", token);
        assertThat(domains.statusCode()).isEqualTo(200);
        assertThat(domains.body()).contains("\"name\":\"vm1\"").contains("\"state\":\"shut off\"");
        HttpResponse<String> snaps = get(origin + "/api/domains/vm1/snapshots", token);
        assertThat(snaps.statusCode()).isEqualTo(200);
        assertThat(snaps.body()).contains("\"name\":\"s1\"").contains("\"current\":true");
        assertThat(get(origin + "/api/domains", null).statusCode()).isEqualTo(401);

        assertThat(serve.stop()).isZero();
        assertThat(tokenFile).doesNotExist();
        assertThat(serve.err.toString()).isEmpty();
    }

    @Test
    void aBusyPortIsOneLineAndLeavesNoTokenFile() throws Exception {
        try (ServerSocket busy = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            Cli.Run r = Cli.run("serve", "--listen", "127.0.0.1:" + busy.getLocalPort());
            assertThat(r.exitCode()).isEqualTo(1);
            assertThat(r.out()).isEmpty();
            assertThat(r.err()).hasLineCount(1).startsWith("vmsnap: cannot listen on 127.0.0.1:" + busy.getLocalPort()
                    + ": ").containsIgnoringCase("address already in use");
        }
        assertThat(dir.resolve("home/serve-token")).doesNotExist();
    }

    @Test
    void aBadListenAddressIsOneLine() {
        for (String bad : new String[] {"8740", "127.0.0.1:", "127.0.0.1:70000", ":8740", "127.0.0.1:http"}) {
            Cli.Run r = Cli.run("serve", "--listen", bad);
            assertThat(r.exitCode()).as(bad).isEqualTo(1);
            assertThat(r.err()).as(bad).isEqualTo("vmsnap: --listen '" + bad + "': expected HOST:PORT (PORT 0-65535),"
                    + " e.g. 127.0.0.1:8740\n");
        }
        assertThat(dir.resolve("home/serve-token")).doesNotExist();
    }

    @Test
    void theTokenFileOptionPutsItThereAndRefusesAnExistingName() throws Exception {
        Path file = dir.resolve("my-token");
        Running serve = new Running("serve", "--listen", "127.0.0.1:0", "--token-file", file.toString());
        String token = serve.awaitUrl().group(3);
        assertThat(Files.readString(file).strip()).isEqualTo(token);
        assertThat(serve.out.toString()).contains("the token is also in " + file + " ");
        Cli.Run second = Cli.run("serve", "--listen", "127.0.0.1:0", "--token-file", file.toString());
        assertThat(second.exitCode()).isEqualTo(1);
        assertThat(second.err()).hasLineCount(1).contains(file + " exists");
        assertThat(Files.readString(file).strip()).isEqualTo(token);
        assertThat(serve.stop()).isZero();
        assertThat(file).doesNotExist();
    }

    private static final Pattern SOCKET = Pattern.compile("vmsnap serve: listening on unix:(\\S+) \\(mode 0600, removed on exit\\)\n");

    /** curl --unix-socket: the status code, then the body. */
    private static List<String> curl(Path socket, String token, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("curl", "-sS", "--unix-socket", socket.toString(), "-w", "\n%{http_code}"));
        if (token != null) {
            cmd.addAll(List.of("-H", "Authorization: Bearer " + token));
        }
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as("curl %s", out).isZero();
        int nl = out.lastIndexOf('\n');
        return List.of(out.substring(nl + 1), out.substring(0, nl));
    }

    @Test
    void servesOnAUnixSocketOfMode0600AndRemovesIt() throws Exception {
        Path socket = dir.resolve("vmsnap.sock");
        // A dead server's socket: the name stays after its server closes, nobody answers; serve replaces it.
        try (ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            dead.bind(UnixDomainSocketAddress.of(socket));
        }
        assertThat(socket).exists();
        Path tokenFile = dir.resolve("token");
        Running serve = new Running("serve", "--socket", socket.toString(), "--token-file", tokenFile.toString());
        assertThat(serve.await(SOCKET).group(1)).isEqualTo(socket.toString());
        String token = Files.readString(tokenFile).strip();
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(socket))).isEqualTo("rw-------");
        assertThat((Integer) Files.getAttribute(socket, "unix:mode") & 0170000).as("a socket").isEqualTo(0140000);
        assertThat(serve.out.toString()).doesNotContain(token);
        try (var folder = Files.list(dir)) {
            assertThat(folder.map(f -> f.getFileName().toString())).as("no private folder left")
                    .noneMatch(n -> n.startsWith(".vmsnap-"));
        }

        List<String> domains = curl(socket, token, "http://localhost/api/domains");
        assertThat(domains.get(0)).isEqualTo("200");
        assertThat(domains.get(1)).contains("\"name\":\"vm1\"").contains("\"state\":\"shut off\"");
        List<String> snaps = curl(socket, token, "http://localhost/api/domains/vm1/snapshots");
        assertThat(snaps.get(1)).contains("\"name\":\"s1\"").contains("\"current\":true");
        assertThat(curl(socket, null, "http://localhost/api/domains").get(0)).isEqualTo("401");
        assertThat(curl(socket, "0".repeat(64), "http://localhost/api/domains").get(0)).isEqualTo("401");
        // No page origin is served on a socket: a state change a browser page sent is refused.
        List<String> forged = curl(socket, token, "-X", "POST", "-H", "Origin: http://evil.example",
                "-d", "{\"name\":\"x\"}", "http://localhost/api/domains/vm1/snapshots");
        assertThat(forged.get(0)).isEqualTo("403");
        assertThat(forged.get(1)).hasLineCount(1).startsWith("{\"error\":\"origin 'http://evil.example' is not allowed");
        // What Jetty refuses itself (an encoded slash in a path) is one line of JSON too, not a page.
        List<String> ambiguous = curl(socket, token, "http://localhost/api/domains/a%2Fb");
        assertThat(ambiguous.get(0)).isEqualTo("400");
        assertThat(ambiguous.get(1)).hasLineCount(1).startsWith("{\"error\":");
        // A job through the socket, as through TCP.
        List<String> created = curl(socket, token, "-X", "POST", "-d", "{\"name\":\"s2\"}",
                "http://localhost/api/domains/vm1/snapshots");
        assertThat(created.get(0)).isEqualTo("202");
        List<String> events = curl(socket, token, "-N", "http://localhost/api/jobs/"
                + created.get(1).replaceAll("(?s).*\"id\":\"([^\"]+)\".*", "$1") + "/events");
        assertThat(events.get(1)).contains("event: end").contains("\"state\":\"succeeded\"");
        assertThat(Cli.run("snapshot-list", "vm1", "--name").out()).contains("s2");

        // A second serve on the live socket: one line, nothing made (its token file neither).
        Cli.Run second = Cli.run("serve", "--socket", socket.toString(), "--token-file", dir.resolve("t2").toString());
        assertThat(second.exitCode()).isEqualTo(1);
        assertThat(second.err()).hasLineCount(1).contains("another server is listening on it");
        assertThat(dir.resolve("t2")).doesNotExist();
        assertThat(curl(socket, token, "http://localhost/api/domains").get(0)).isEqualTo("200");

        assertThat(serve.stop()).isZero();
        assertThat(socket).doesNotExist();
        assertThat(tokenFile).doesNotExist();
        assertThat(serve.err.toString()).isEmpty();
    }

    @Test
    void aSocketPathThatIsNotASocketIsRefusedUnchanged() throws Exception {
        Path file = Files.writeString(dir.resolve("notes"), "mine\n");
        Cli.Run r = Cli.run("serve", "--socket", file.toString());
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).isEqualTo("vmsnap: --socket " + file + " exists and is not a socket: choose another path\n");
        assertThat(Files.readString(file)).isEqualTo("mine\n");
        Cli.Run both = Cli.run("serve", "--socket", dir.resolve("s").toString(), "--listen", "127.0.0.1:0");
        assertThat(both.err()).hasLineCount(1).contains("exclusive");
        Cli.Run tooLong = Cli.run("serve", "--socket", dir.resolve("x".repeat(120)).toString());
        assertThat(tooLong.err()).hasLineCount(1).contains("at most 107 bytes");
        assertThat(dir.resolve("home/serve-token")).doesNotExist();
        try (var folder = Files.list(dir)) {
            assertThat(folder.map(f -> f.getFileName().toString())).noneMatch(n -> n.startsWith(".vmsnap-"));
        }
    }
}
