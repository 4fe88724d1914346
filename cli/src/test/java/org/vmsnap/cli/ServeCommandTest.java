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
            for (int i = 0; i < 600; i++) {
                Matcher m = URL.matcher(out.toString());
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
}
