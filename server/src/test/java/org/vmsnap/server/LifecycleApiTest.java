package org.vmsnap.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.manager.DomainService;
import org.vmsnap.manager.DomainStatus;
import org.vmsnap.manager.DomainStatus.State;
import org.vmsnap.manager.InvalidInputException;
import org.vmsnap.qcow2.Qcow2CreateOptions;
import org.vmsnap.qcow2.Qcow2Image;
import org.vmsnap.testkit.ShutOffDomainXml;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The lifecycle verbs (start, shutdown, destroy, suspend, resume, managedsave) on a real
 * shut-off domain without QEMU: every bad body, unknown domain, wrong method, forged origin,
 * missing token and wrong state is one line with its status, starts no job and leaves every file
 * as it was. The state rule and the event words as units; the domain event stream's defined and
 * undefined events on a real state folder. (Starting a guest: ServeLifecycleIT.)
 */
class LifecycleApiTest extends ServerTestBase {
    @Override
    int diskCount() {
        return 1;
    }

    Map<String, String> files() throws Exception {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(tmp)) {
            for (Path p : walk.filter(Files::isRegularFile).toList()) {
                if (p.equals(server.tokenFile())) {
                    continue;
                }
                byte[] d = MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p));
                out.put(tmp.relativize(p).toString(), HexFormat.of().formatHex(d));
            }
        }
        return out;
    }

    @Test
    void badLifecycleRequestsAreOneLineStartNoJobAndChangeNothing() throws Exception {
        Map<String, String> before = files();
        String notRunning = "Requested operation is not valid: domain is not running";
        record Bad(String method, String path, String body, int status, String says) {
        }
        List<Bad> bad = List.of(
                new Bad("POST", "/api/domains/vm1/start", "{\"paused\":", 400, "request body at line 1"),
                new Bad("POST", "/api/domains/vm1/start", "{\"pasued\":true}", 400, "pasued"),
                new Bad("POST", "/api/domains/vm1/start", "{\"paused\":\"yes\"}", 400, "request body"),
                new Bad("POST", "/api/domains/vm1/start", "[true]", 400, "request body"),
                new Bad("POST", "/api/domains/vm1/start", "{} {}", 400, "request body"),
                new Bad("POST", "/api/domains/vm1/shutdown", "{\"mode\":\"power\"}", 400,
                        "Unknown mode power value, expecting 'acpi' or 'agent'"),
                new Bad("POST", "/api/domains/vm1/shutdown", "{\"mode\":1}", 400, "Unknown mode 1 value"),
                new Bad("POST", "/api/domains/vm1/shutdown", "{\"mode\":{}}", 400, "request body"),
                new Bad("POST", "/api/domains/vm1/destroy", "{\"graceful\":[]}", 400, "request body"),
                new Bad("POST", "/api/domains/vm1/suspend", "{\"now\":true}", 400, "now"),
                new Bad("POST", "/api/domains/vm1/resume", "{\"x\":1}", 400, "x"),
                new Bad("POST", "/api/domains/vm1/managedsave", "{\"running\":true,\"paused\":true}", 400,
                        "--running and --paused are mutually exclusive"),
                // A shut-off domain: each verb that needs QEMU is refused in the manager's words.
                new Bad("POST", "/api/domains/vm1/shutdown", "{}", 400, notRunning),
                new Bad("POST", "/api/domains/vm1/shutdown", "{\"mode\":\"agent\"}", 400, notRunning),
                new Bad("POST", "/api/domains/vm1/destroy", "", 400, notRunning),
                new Bad("POST", "/api/domains/vm1/suspend", "{}", 400, notRunning),
                new Bad("POST", "/api/domains/vm1/resume", "{}", 400, notRunning),
                new Bad("POST", "/api/domains/vm1/managedsave", "{}", 400, notRunning),
                new Bad("POST", "/api/domains/nosuch/start", "{}", 404, "nosuch"),
                new Bad("POST", "/api/domains/nosuch/destroy", "{}", 404, "nosuch"),
                new Bad("POST", "/api/domains/..%2Fx/start", "{}", 400, "../x"),
                new Bad("GET", "/api/domains/vm1/start", null, 405, "GET"),
                new Bad("DELETE", "/api/domains/vm1/destroy", null, 405, "DELETE"),
                new Bad("POST", "/api/domains/vm1/reboot", "{}", 404, "no resource"),
                new Bad("POST", "/api/domains/vm1/start/now", "{}", 404, "no resource"),
                new Bad("POST", "/api/events", "{}", 405, "POST"),
                // save and restore: the path's shape here, the rest is the manager's (the CLI's) check.
                new Bad("POST", "/api/domains/vm1/save", "{}", 400, "save needs a file"),
                new Bad("POST", "/api/domains/vm1/save", "{\"file\":\"vm1.state\"}", 400,
                        "file 'vm1.state' is not an absolute path"),
                new Bad("POST", "/api/domains/vm1/save", "{\"file\":\"/tmp/a\\u0000b\"}", 400, "not an absolute path"),
                new Bad("POST", "/api/domains/vm1/save", "{\"file\":\"/tmp/x\",\"running\":true,\"paused\":true}",
                        400, "--running and --paused are mutually exclusive"),
                new Bad("POST", "/api/domains/vm1/save", "{\"file\":\"/tmp/x\",\"xml\":\"\"}", 400, "xml"),
                new Bad("POST", "/api/domains/vm1/save", "{\"file\":\"/tmp/x\"}", 400, notRunning),
                new Bad("POST", "/api/domains/nosuch/save", "{\"file\":\"/tmp/x\"}", 404, "nosuch"),
                new Bad("GET", "/api/domains/vm1/save", null, 405, "GET"),
                new Bad("POST", "/api/restore", "{\"file\":\"../vm1.state\"}", 400, "not an absolute path"),
                new Bad("POST", "/api/restore", "{\"file\":1}", 400, "request body"),
                new Bad("GET", "/api/restore", null, 405, "GET"));
        for (Bad b : bad) {
            HttpRequest.Builder r = req(b.path()).header("Origin", server.url());
            HttpResponse<String> resp = send(b.body() == null ? r.method(b.method(), HttpRequest.BodyPublishers.noBody())
                    : r.method(b.method(), HttpRequest.BodyPublishers.ofString(b.body())));
            assertThat(resp.statusCode()).as("%s %s %s: %s", b.method(), b.path(), b.body(), resp.body())
                    .isEqualTo(b.status());
            assertThat(resp.body()).as(b.path()).endsWith("\n").hasLineCount(1).doesNotContain("\tat ");
            assertThat((String) map(resp.body()).get("error")).as(b.path()).contains(b.says());
        }
        // Another page's POST, and a request without the token, are refused before anything is read.
        HttpResponse<String> forged = send(req("/api/domains/vm1/start").header("Origin", "http://evil.example")
                .POST(HttpRequest.BodyPublishers.ofString("{}")));
        assertThat(forged.statusCode()).isEqualTo(403);
        HttpResponse<String> noToken = client.send(HttpRequest.newBuilder(URI.create(server.url()
                + "/api/domains/vm1/start")).POST(HttpRequest.BodyPublishers.ofString("{}")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(noToken.statusCode()).isEqualTo(401);
        HttpResponse<String> eventsNoToken = client.send(HttpRequest.newBuilder(URI.create(server.url()
                + "/api/events")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(eventsNoToken.statusCode()).isEqualTo(401);
        Thread.sleep(200); // had any of them started a job, give it time to act
        assertThat(send(req("/api/jobs")).body().strip()).isEqualTo("[]");
        assertThat(files()).isEqualTo(before);
        assertThat(domains.status("vm1").state()).isEqualTo(State.SHUTOFF);
    }

    /**
     * A restore from a file that is no save image: the job fails with the CLI's line (restore's
     * "Failed to restore domain from FILE: ..." around the manager's check) and nothing changes.
     */
    @Test
    void aRestoreOfABadFileFailsWithTheClisLine() throws Exception {
        Path junk = Files.writeString(tmp.resolve("junk.state"), "not a save image\n");
        Map<String, String> before = files();
        for (String[] c : new String[][] {{junk.toString(), junk + ": not a vmsnap memory file or a libvirt save image"},
                {tmp.resolve("none.state").toString(), tmp.resolve("none.state") + ": No such file or directory"}}) {
            HttpResponse<String> r = send(req("/api/restore").POST(HttpRequest.BodyPublishers.ofString(
                    "{\"file\":\"" + c[0] + "\"}")));
            assertThat(r.statusCode()).as(r.body()).isEqualTo(202);
            Map<String, Object> end = awaitJob((String) map(r.body()).get("id"));
            assertThat(end.get("state")).isEqualTo("failed");
            assertThat((String) end.get("error")).isEqualTo("Failed to restore domain from " + c[0] + ": " + c[1]
                    + (c[1].endsWith("image") ? " (bad magic at offset 0x0)" : ""));
        }
        assertThat(files()).isEqualTo(before);
    }

    @Test
    void theStateRuleRefusesInTheManagersWords() throws Exception {
        DomainStatus off = new DomainStatus(State.SHUTOFF, "shutdown", -1);
        DomainStatus running = new DomainStatus(State.RUNNING, "booted", 3);
        DomainStatus paused = new DomainStatus(State.PAUSED, "user", 3);
        String already = "Requested operation is not valid: domain is already running";
        String notRunning = "Requested operation is not valid: domain is not running";
        assertThatThrownBy(() -> Actions.checkState("start", running)).isInstanceOf(InvalidInputException.class)
                .hasMessage(already);
        assertThatThrownBy(() -> Actions.checkState("start", paused)).hasMessage(already);
        assertThatThrownBy(() -> Actions.checkState("resume", running)).hasMessage(already);
        for (String verb : List.of("shutdown", "destroy", "suspend", "resume", "managedsave")) {
            assertThatThrownBy(() -> Actions.checkState(verb, off)).as(verb).hasMessage(notRunning);
        }
        // What may go ahead (the manager checks again under the domain's lock).
        Actions.checkState("start", off);
        Actions.checkState("resume", paused);
        for (String verb : List.of("shutdown", "destroy", "suspend", "managedsave")) {
            Actions.checkState(verb, running);
            Actions.checkState(verb, paused);
        }
    }

    @Test
    void stateChangesAreNamedAsLibvirtsLifecycleEvents() {
        assertThat(DomainEvents.transition(State.SHUTOFF, State.RUNNING)).isEqualTo("started");
        assertThat(DomainEvents.transition(State.SHUTOFF, State.PAUSED)).isEqualTo("started");
        assertThat(DomainEvents.transition(State.RUNNING, State.SHUTOFF)).isEqualTo("stopped");
        assertThat(DomainEvents.transition(State.PAUSED, State.SHUTOFF)).isEqualTo("stopped");
        assertThat(DomainEvents.transition(State.IN_SHUTDOWN, State.SHUTOFF)).isEqualTo("stopped");
        assertThat(DomainEvents.transition(State.RUNNING, State.PAUSED)).isEqualTo("paused");
        assertThat(DomainEvents.transition(State.PAUSED, State.RUNNING)).isEqualTo("resumed");
        assertThat(DomainEvents.transition(State.RUNNING, State.IN_SHUTDOWN)).isEqualTo("changed");
        assertThat(DomainEvents.transition(null, State.SHUTOFF)).isEqualTo("defined");
        assertThat(DomainEvents.transition(State.SHUTOFF, null)).isEqualTo("undefined");
    }

    /** Reads server-sent events: the next event's type and data. */
    record Sse(Iterator<String> lines) {
        Map.Entry<String, Map<String, Object>> next() throws IOException {
            String type = null;
            while (lines.hasNext()) {
                String line = lines.next();
                if (line.startsWith("event: ")) {
                    type = line.substring(7);
                } else if (line.startsWith("data: ") && type != null) {
                    return Map.entry(type, map(line.substring(6)));
                }
            }
            throw new IOException("the stream ended");
        }
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void theEventStreamShowsEveryStateThenEachChange() throws Exception {
        HttpResponse<Stream<String>> resp = client.send(req("/api/events").build(), HttpResponse.BodyHandlers.ofLines());
        assertThat(resp.statusCode()).isEqualTo(200);
        assertThat(resp.headers().firstValue("Content-Type")).hasValue("text/event-stream; charset=utf-8");
        try (Stream<String> lines = resp.body()) {
            Sse sse = new Sse(lines.iterator());
            Map.Entry<String, Map<String, Object>> first = sse.next();
            assertThat(first.getKey()).isEqualTo("domains");
            assertThat(first.getValue()).isEqualTo(Map.of("domains", List.of(Map.of("domain", "vm1", "state", "shut off"))));

            // Changes made outside the server (here the manager directly, as the CLI would) are seen.
            Path vdb = tmp.resolve("disks/b.qcow2");
            Qcow2Image.create(vdb, Qcow2CreateOptions.ofSize(4 << 20)).close();
            domains.define(ShutOffDomainXml.of("vm2", vdb));
            Map.Entry<String, Map<String, Object>> defined = sse.next();
            assertThat(defined.getKey()).isEqualTo("domain");
            assertThat(defined.getValue()).containsEntry("domain", "vm2").containsEntry("event", "defined")
                    .containsEntry("state", "shut off").containsEntry("previous", null);

            domains.undefine("vm2", false, false);
            Map.Entry<String, Map<String, Object>> undefined = sse.next();
            assertThat(undefined.getValue()).containsEntry("domain", "vm2").containsEntry("event", "undefined")
                    .containsEntry("state", null).containsEntry("previous", "shut off");
        }
    }
}
