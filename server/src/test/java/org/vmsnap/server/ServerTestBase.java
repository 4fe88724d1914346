package org.vmsnap.server;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.manager.DomainService;
import org.vmsnap.qcow2.Qcow2CreateOptions;
import org.vmsnap.qcow2.Qcow2Image;
import org.vmsnap.testkit.ShutOffDomainXml;

/**
 * The server in process on a free loopback port over a state folder with one shut-off domain
 * {@code vm1} on small qcow2 disks ({@link #diskCount()} of them: vda, vdb), and an HTTP client
 * that sends the server's token: what the server's API tests share.
 */
abstract class ServerTestBase {
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;
    DomainService domains;
    VmsnapServer server;
    HttpClient client = HttpClient.newHttpClient();
    String token;
    Path vda;
    Path vdb;

    /** How many disks vm1 has (1 or 2). */
    int diskCount() {
        return 2;
    }

    @BeforeEach
    void setUp() throws IOException {
        domains = new DomainService(tmp.resolve("home"));
        Path disks = Files.createDirectories(tmp.resolve("disks"));
        vda = disks.resolve("a.qcow2");
        Qcow2Image.create(vda, Qcow2CreateOptions.ofSize(4 << 20)).close();
        if (diskCount() > 1) {
            vdb = disks.resolve("b.qcow2");
            Qcow2Image.create(vdb, Qcow2CreateOptions.ofSize(4 << 20)).close();
            domains.define(ShutOffDomainXml.of("vm1", vda, vdb));
        } else {
            domains.define(ShutOffDomainXml.of("vm1", vda));
        }
        server = VmsnapServer.start(domains, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        token = Files.readString(server.tokenFile()).strip();
    }

    @AfterEach
    void tearDown() throws IOException {
        server.close();
        client.close();
    }

    HttpRequest.Builder req(String path) {
        return HttpRequest.newBuilder(URI.create(server.url() + path)).header("Authorization", "Bearer " + token);
    }

    HttpResponse<String> send(HttpRequest.Builder b) throws IOException, InterruptedException {
        return client.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** The job once it has ended (polled, at most 30 s). */
    Map<String, Object> awaitJob(String id) throws IOException, InterruptedException {
        for (int i = 0; i < 300; i++) {
            Map<String, Object> job = map(send(req("/api/jobs/" + id)).body());
            if (job.get("ended") != null) {
                return job;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("job " + id + " did not end in 30 s");
    }

    static Map<String, Object> map(String json) throws IOException {
        return JSON.readValue(json, new TypeReference<>() { });
    }
}
