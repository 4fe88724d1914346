package org.vmsnap.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.manager.DomainService;
import org.vmsnap.qcow2.Qcow2CreateOptions;
import org.vmsnap.qcow2.Qcow2Image;
import org.vmsnap.server.VmsnapServer;
import org.vmsnap.testkit.ShutOffDomainXml;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The same actions through the CLI on one domain and through the API on a twin: the two end in
 * the same tree, current snapshot and snapshot-info, and the API reads of the CLI's domain say
 * what snapshot-info says.
 */
class ServeMatchesCliTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;
    VmsnapServer server;
    HttpClient client = HttpClient.newHttpClient();
    String token;

    @BeforeEach
    void twins() throws IOException {
        System.setProperty("vmsnap.home", dir.resolve("home").toString());
        for (String vm : List.of("cli", "api")) {
            Path a = dir.resolve(vm + "-a.qcow2");
            Path b = dir.resolve(vm + "-b.qcow2");
            Qcow2Image.create(a, Qcow2CreateOptions.ofSize(1 << 20)).close();
            Qcow2Image.create(b, Qcow2CreateOptions.ofSize(1 << 20)).close();
            Path xml = Files.writeString(dir.resolve(vm + ".xml"), ShutOffDomainXml.of(vm, a, b));
            assertThat(Cli.run("define", xml.toString()).exitCode()).isZero();
        }
        server = VmsnapServer.start(new DomainService(DomainService.defaultHome()),
                new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        token = Files.readString(server.tokenFile()).strip();
    }

    @AfterEach
    void stop() throws IOException {
        server.close();
        client.close();
        System.clearProperty("vmsnap.home");
    }

    void cli(String... args) {
        Cli.Run r = Cli.run(args);
        assertThat(r.exitCode()).as("%s: %s", List.of(args), r.err()).isZero();
    }

    /** An action through the API, followed to its end; it must succeed. */
    void api(String method, String path, String body) throws Exception {
        HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(server.url() + path))
                .header("Authorization", "Bearer " + token).header("Origin", server.url())
                .method(method, HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(202);
        String id = (String) JSON.readValue(r.body(), Map.class).get("id");
        String events = client.send(HttpRequest.newBuilder(URI.create(server.url() + "/api/jobs/" + id + "/events"))
                .header("Authorization", "Bearer " + token).build(), HttpResponse.BodyHandlers.ofString()).body();
        String end = events.substring(events.indexOf("event: end\ndata: ") + "event: end\ndata: ".length()).strip();
        assertThat(JSON.readValue(end, Map.class)).as(end).containsEntry("state", "succeeded");
    }

    List<Map<String, Object>> snapshots(String vm) throws Exception {
        return JSON.readValue(client.send(HttpRequest.newBuilder(URI.create(server.url() + "/api/domains/" + vm
                + "/snapshots")).header("Authorization", "Bearer " + token).build(),
                HttpResponse.BodyHandlers.ofString()).body(), new TypeReference<>() { });
    }

    /** snapshot-info of every snapshot, without the Domain line (the twins' names differ). */
    static String infos(String vm, List<String> names) {
        return names.stream().map(n -> Cli.run("snapshot-info", vm, n).out().lines()
                .filter(l -> !l.startsWith("Domain:")).collect(Collectors.joining("\n"))).collect(Collectors.joining("\n"));
    }

    /** snapshot-info's line for a field (virsh's "%-15s %s"). */
    static String line(String label, Object value) {
        return String.format("%-15s %s%n", label, value);
    }

    @Test
    void theSameActionsEndInTheSameTrees() throws Exception {
        cli("snapshot-create-as", "cli", "s1");
        api("POST", "/api/domains/api/snapshots", "{\"name\":\"s1\"}");
        cli("snapshot-create-as", "cli", "s2", "second");
        api("POST", "/api/domains/api/snapshots", "{\"name\":\"s2\",\"description\":\"second\"}");
        cli("snapshot-create-as", "cli", "e1", "--disk-only");
        api("POST", "/api/domains/api/snapshots", "{\"name\":\"e1\",\"diskOnly\":true}");
        cli("snapshot-revert", "cli", "s1");
        api("POST", "/api/domains/api/snapshots/s1/revert", "{}");
        cli("snapshot-create-as", "cli", "s3", "--diskspec", "vda,snapshot=internal", "--diskspec", "vdb,snapshot=external");
        api("POST", "/api/domains/api/snapshots", "{\"name\":\"s3\",\"disks\":[{\"name\":\"vda\",\"snapshot\":\"internal\"},"
                + "{\"name\":\"vdb\",\"snapshot\":\"external\"}]}");
        cli("snapshot-delete", "cli", "s2");
        api("DELETE", "/api/domains/api/snapshots/s2", "");

        String tree = Cli.run("snapshot-list", "cli", "--tree").out();
        assertThat(tree).contains("s1").contains("e1").contains("s3").doesNotContain("s2");
        assertThat(Cli.run("snapshot-list", "api", "--tree").out()).isEqualTo(tree);
        assertThat(Cli.run("snapshot-current", "api", "--name").out()).isEqualTo(
                Cli.run("snapshot-current", "cli", "--name").out()).isEqualTo("s3\n");
        List<String> names = List.of("s1", "e1", "s3");
        assertThat(infos("api", names)).isEqualTo(infos("cli", names));

        // The API's reading of the CLI's domain says what snapshot-info says.
        for (Map<String, Object> s : snapshots("cli")) {
            String info = Cli.run("snapshot-info", "cli", (String) s.get("name")).out();
            assertThat(info).contains(line("Current:", (Boolean) s.get("current") ? "yes" : "no"))
                    .contains(line("State:", s.get("state")))
                    .contains(line("Location:", s.get("location")))
                    .contains(line("Parent:", s.get("parent") == null ? "-" : s.get("parent")))
                    .contains(line("Children:", s.get("children")))
                    .contains(line("Descendants:", s.get("descendants")));
        }
    }
}
