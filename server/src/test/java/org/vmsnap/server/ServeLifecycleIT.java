package org.vmsnap.server;

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
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.manager.DomainService;
import org.vmsnap.testkit.TestGuest;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The test guest (QEMU under TCG) started, paused, resumed and destroyed through the API as
 * jobs, as the CLI's start/suspend/resume/destroy would: each job ends with the state the
 * manager reports, the guest really boots (its console prints the writer's line), the domain
 * event stream names each change (started, paused, resumed, stopped), a second start is refused
 * in the manager's words, and no QEMU is left.
 */
class ServeLifecycleIT {
    static final ObjectMapper JSON = new ObjectMapper();
    static final Duration BOOT = Duration.ofSeconds(120);

    @TempDir
    Path dir;

    static Map<String, Object> map(String json) throws IOException {
        return JSON.readValue(json, new TypeReference<>() { });
    }

    @Test
    @org.junit.jupiter.api.Timeout(value = 10, unit = TimeUnit.MINUTES)
    void theTestGuestStartsPausesResumesAndIsDestroyedThroughTheApi() throws Exception {
        DomainService domains = new DomainService(dir.resolve("home"));
        Path disk = dir.resolve("data0.qcow2");
        TestGuest.createDataDisk(disk, 64);
        Path serial = dir.resolve("g-serial.log");
        domains.define(TestGuest.get().domainXml("g", List.of(disk), serial));
        BlockingQueue<Map<String, Object>> domainEvents = new LinkedBlockingQueue<>();
        VmsnapServer server = VmsnapServer.start(domains, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        HttpClient client = HttpClient.newHttpClient();
        try {
            String token = Files.readString(server.tokenFile()).strip();
            Api api = new Api(client, server.url(), token);

            HttpResponse<Stream<String>> stream = client.send(api.req("/api/events").build(),
                    HttpResponse.BodyHandlers.ofLines());
            assertThat(stream.statusCode()).isEqualTo(200);
            Thread.ofVirtual().start(() -> {
                try (Stream<String> lines = stream.body()) {
                    Iterator<String> it = lines.iterator();
                    String type = null;
                    while (it.hasNext()) {
                        String line = it.next();
                        if (line.startsWith("event: ")) {
                            type = line.substring(7);
                        } else if (line.startsWith("data: ") && "domain".equals(type)) {
                            domainEvents.add(map(line.substring(6)));
                        }
                    }
                } catch (IOException | RuntimeException e) {
                    // the server stopped
                }
            });
            try {
                Map<String, Object> started = api.run("/api/domains/g/start", "{}");
                assertThat(started).as("%s", started).containsEntry("state", "succeeded").containsEntry("operation", "start");
                assertThat(started.get("result")).isEqualTo(Map.of("domain", "g", "state", "running"));
                // A look during the start may see QEMU still in prelaunch (paused): then "resumed" follows.
                Map<String, Object> startedEvent = awaitEvent(domainEvents, "started");
                assertThat(startedEvent).containsEntry("domain", "g").containsEntry("previous", "shut off");
                if (!"running".equals(startedEvent.get("state"))) {
                    assertThat(awaitEvent(domainEvents, "resumed")).containsEntry("state", "running");
                }
                TestGuest.awaitSerial(serial, 0, TestGuest.READY_LINE, BOOT);

                HttpResponse<String> again = api.post("/api/domains/g/start", "{}");
                assertThat(again.statusCode()).isEqualTo(400);
                assertThat(again.body()).hasLineCount(1)
                        .contains("Requested operation is not valid: domain is already running");

                assertThat(api.run("/api/domains/g/suspend", "")).containsEntry("result", Map.of("domain", "g", "state", "paused"));
                assertThat(awaitEvent(domainEvents, "paused")).containsEntry("state", "paused");
                HttpResponse<String> badSuspend = api.post("/api/domains/g/suspend", "{\"x\":1}");
                assertThat(badSuspend.statusCode()).isEqualTo(400);
                assertThat(api.run("/api/domains/g/resume", "{}")).containsEntry("result", Map.of("domain", "g", "state", "running"));
                assertThat(awaitEvent(domainEvents, "resumed")).containsEntry("state", "running");

                Map<String, Object> destroyed = api.run("/api/domains/g/destroy", "{}");
                assertThat(destroyed).as("%s", destroyed).containsEntry("state", "succeeded")
                        .containsEntry("result", Map.of("domain", "g", "state", "shut off"));
                assertThat(awaitEvent(domainEvents, "stopped")).containsEntry("state", "shut off")
                        .containsEntry("previous", "running");
                assertThat(domains.status("g").active()).isFalse();
                assertThat((String) map(api.send(api.req("/api/domains/g")).body()).get("state")).isEqualTo("shut off");
            } finally {
                if (domains.status("g").active()) {
                    domains.destroy("g", false); // leave no QEMU behind a failed assertion
                }
            }
        } finally {
            // The server first: it ends the event stream, which a client's close would wait for.
            server.close();
            client.shutdownNow();
        }
    }

    /** The next domain event named {@code word}; the ones before it are printed (a look mid-change). */
    static Map<String, Object> awaitEvent(BlockingQueue<Map<String, Object>> q, String word) throws InterruptedException {
        while (true) {
            Map<String, Object> e = q.poll(30, TimeUnit.SECONDS);
            assertThat(e).as("a '%s' domain event within 30 s", word).isNotNull();
            assertThat(e).containsEntry("domain", "g");
            if (word.equals(e.get("event"))) {
                return e;
            }
            System.out.println("ServeLifecycleIT: on the way to '" + word + "': " + e);
        }
    }

    /** The API with the token and the served origin. */
    record Api(HttpClient client, String url, String token) {
        HttpRequest.Builder req(String path) {
            return HttpRequest.newBuilder(URI.create(url + path)).header("Authorization", "Bearer " + token);
        }

        HttpResponse<String> send(HttpRequest.Builder b) throws IOException, InterruptedException {
            return client.send(b.build(), HttpResponse.BodyHandlers.ofString());
        }

        HttpResponse<String> post(String path, String body) throws IOException, InterruptedException {
            return send(req(path).header("Content-Type", "application/json").header("Origin", url)
                    .POST(HttpRequest.BodyPublishers.ofString(body)));
        }

        /** Starts a job (202) and waits for its end on its event stream; returns the ended job. */
        Map<String, Object> run(String path, String body) throws Exception {
            HttpResponse<String> started = post(path, body);
            assertThat(started.statusCode()).as(started.body()).isEqualTo(202);
            String id = (String) map(started.body()).get("id");
            HttpResponse<Stream<String>> events = client.send(req("/api/jobs/" + id + "/events").build(),
                    HttpResponse.BodyHandlers.ofLines());
            try (Stream<String> lines = events.body()) {
                Iterator<String> it = lines.iterator();
                String type = null;
                while (it.hasNext()) {
                    String line = it.next();
                    if (line.startsWith("event: ")) {
                        type = line.substring(7);
                    } else if (line.startsWith("data: ") && "end".equals(type)) {
                        return map(line.substring(6));
                    }
                }
            }
            throw new AssertionError("no end event for job " + id);
        }
    }
}
