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
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.manager.DomainService;
import org.vmsnap.manager.SnapshotTree;
import org.vmsnap.manager.xml.SnapshotDef;
import org.vmsnap.manager.xml.SnapshotMode;
import org.vmsnap.qcow2.OpenOptions;
import org.vmsnap.qcow2.Qcow2CreateOptions;
import org.vmsnap.qcow2.Qcow2Image;
import org.vmsnap.testkit.ShutOffDomainXml;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The actions as jobs on a real shut-off domain with two qcow2 disks: create, revert and delete
 * answer 202 with a job, the job's events end with its result, and the manager's own view (and
 * the images' snapshot tables) show the change; bad input is a 400 or 404 line that starts no
 * job and leaves every file as it was; concurrent creates on one domain all land, one after
 * another.
 */
class JobsApiTest extends ServerTestBase {
    HttpResponse<String> post(String path, String body) throws IOException, InterruptedException {
        return send(req(path).header("Content-Type", "application/json").header("Origin", server.url())
                .POST(HttpRequest.BodyPublishers.ofString(body)));
    }

    /** Starts an action, checks the 202, follows its events to the end; returns the end event's job. */
    Map<String, Object> run(HttpResponse<String> started) throws Exception {
        assertThat(started.statusCode()).as(started.body()).isEqualTo(202);
        Map<String, Object> job = map(started.body());
        String id = (String) job.get("id");
        assertThat(id).matches("[0-9a-f]{16}");
        assertThat(started.headers().firstValue("Location")).hasValue("/api/jobs/" + id);
        assertThat(job.get("state")).isIn("queued", "running", "succeeded", "failed");
        HttpResponse<Stream<String>> events = client.send(req("/api/jobs/" + id + "/events").build(),
                HttpResponse.BodyHandlers.ofLines());
        assertThat(events.statusCode()).isEqualTo(200);
        assertThat(events.headers().firstValue("Content-Type")).hasValue("text/event-stream; charset=utf-8");
        List<String> types = new ArrayList<>();
        Map<String, Object> end = null;
        try (Stream<String> lines = events.body()) {
            Iterator<String> it = lines.iterator();
            String type = null;
            while (it.hasNext() && end == null) {
                String line = it.next();
                if (line.startsWith("event: ")) {
                    type = line.substring(7);
                    types.add(type);
                } else if (line.startsWith("data: ") && "end".equals(type)) {
                    end = map(line.substring(6));
                }
            }
        }
        assertThat(end).as("an end event").isNotNull();
        assertThat(types.getLast()).isEqualTo("end");
        // The stream's end is what GET /api/jobs/{id} says from then on.
        assertThat(map(send(req("/api/jobs/" + id)).body())).isEqualTo(end);
        assertThat(end).containsEntry("id", id);
        return end;
    }

    static List<String> internalSnapshots(Path image) throws IOException {
        try (Qcow2Image img = Qcow2Image.open(image, OpenOptions.readOnlyOpen())) {
            return img.snapshots().stream().map(s -> s.name()).toList();
        }
    }

    @Test
    void createRevertAndDeleteRunAsJobsThroughTheManager() throws Exception {
        Map<String, Object> made = run(post("/api/domains/vm1/snapshots", "{\"name\":\"s1\",\"description\":\"first\"}"));
        assertThat(made).containsEntry("state", "succeeded").containsEntry("operation", "snapshot-create")
                .containsEntry("domain", "vm1").containsEntry("snapshot", "s1").containsEntry("error", null)
                .containsEntry("result", Map.of("name", "s1"));
        SnapshotTree tree = domains.snapshots("vm1").tree();
        assertThat(tree.current()).isEqualTo("s1");
        assertThat(tree.get("s1").description()).isEqualTo("first");
        assertThat(internalSnapshots(vda)).containsExactly("s1");
        assertThat(internalSnapshots(vdb)).containsExactly("s1");

        // An unnamed one is named by its time, as snapshot-create-as names it; the job says the name.
        Map<String, Object> unnamed = run(post("/api/domains/vm1/snapshots", ""));
        @SuppressWarnings("unchecked")
        String timeName = ((Map<String, String>) unnamed.get("result")).get("name");
        assertThat(timeName).matches("[0-9]+");
        // An external one through the disks' modes, as --diskspec.
        Map<String, Object> ext = run(post("/api/domains/vm1/snapshots", "{\"name\":\"e1\",\"disks\":["
                + "{\"name\":\"vda\",\"snapshot\":\"external\"},{\"name\":\"vdb\",\"snapshot\":\"external\"}]}"));
        assertThat(ext).containsEntry("state", "succeeded");
        tree = domains.snapshots("vm1").tree();
        assertThat(tree.get("e1").location()).isEqualTo("external");
        assertThat(tree.get("e1").disk("vda").mode()).isEqualTo(SnapshotMode.EXTERNAL);

        Map<String, Object> reverted = run(post("/api/domains/vm1/snapshots/s1/revert", "{}"));
        assertThat(reverted).containsEntry("state", "succeeded").containsEntry("operation", "snapshot-revert");
        assertThat(domains.snapshots("vm1").tree().current()).isEqualTo("s1");

        Map<String, Object> deleted = run(send(req("/api/domains/vm1/snapshots/" + timeName)
                .header("Origin", server.url()).DELETE()));
        assertThat(deleted).containsEntry("state", "succeeded").containsEntry("result", Map.of("deleted",
                List.of(timeName)));
        tree = domains.snapshots("vm1").tree();
        assertThat(tree.contains(timeName)).isFalse();
        assertThat(tree.get("e1").parent()).as("its child moves up to its parent").isEqualTo("s1");
        assertThat(internalSnapshots(vda)).doesNotContain(timeName);

        // Every job is listed, in the order they were started, as each shows itself.
        List<Map<String, Object>> all = JSON.readValue(send(req("/api/jobs")).body(), new TypeReference<>() { });
        assertThat(all).containsExactly(made, unnamed, ext, reverted, deleted);

        // GET of one snapshot is the list's entry.
        Map<String, Object> one = map(send(req("/api/domains/vm1/snapshots/s1")).body());
        assertThat(one).containsEntry("name", "s1").containsEntry("current", true).containsEntry("description", "first");
    }

    @Test
    void aManagerRefusalIsAFailedJobWithItsOneLine() throws Exception {
        // A disk the domain does not have gets past the request checks; the manager refuses it.
        Map<String, Object> end = run(post("/api/domains/vm1/snapshots",
                "{\"name\":\"x\",\"disks\":[{\"name\":\"vdz\",\"snapshot\":\"internal\"}]}"));
        assertThat(end).containsEntry("state", "failed").containsEntry("result", null);
        assertThat((String) end.get("error")).contains("vdz").doesNotContain("\n").doesNotContain("Exception");
        assertThat(domains.snapshots("vm1").tree().all()).isEmpty();
    }

    /** Every file under the temporary folder (state folder and disks) with its content's digest. */
    Map<String, String> files() throws Exception {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(tmp)) {
            for (Path p : walk.filter(Files::isRegularFile).toList()) {
                byte[] d = MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p));
                out.put(tmp.relativize(p).toString(), HexFormat.of().formatHex(d));
            }
        }
        return out;
    }

    @Test
    void badInputIsOneLineAndChangesNothing() throws Exception {
        run(post("/api/domains/vm1/snapshots", "{\"name\":\"s1\"}"));
        run(post("/api/domains/vm1/snapshots", "{\"name\":\"s2\"}"));
        Map<String, String> before = files();
        record Bad(String method, String path, String body, int status, String says) {
        }
        List<Bad> bad = List.of(
                new Bad("POST", "/api/domains/vm1/snapshots", "{\"name\":", 400, "request body at line 1"),
                new Bad("POST", "/api/domains/vm1/snapshots", "[1]", 400, "request body"),
                new Bad("POST", "/api/domains/vm1/snapshots", "{\"nmae\":\"x\"}", 400, "nmae"),
                new Bad("POST", "/api/domains/vm1/snapshots", "{\"diskOnly\":\"yes\"}", 400, "request body"),
                new Bad("POST", "/api/domains/vm1/snapshots", "{} {}", 400, "request body"),
                new Bad("POST", "/api/domains/vm1/snapshots", "{\"name\":\"a/b\"}", 400, "a/b"),
                new Bad("POST", "/api/domains/vm1/snapshots", "{\"name\":\"s1\"}", 400, "domain moment s1 already exists"),
                new Bad("POST", "/api/domains/vm1/snapshots", "{\"disks\":[{\"name\":\"vda\",\"snapshot\":\"sideways\"}]}",
                        400, "unknown snapshot location 'sideways'"),
                new Bad("POST", "/api/domains/vm1/snapshots", "{\"disks\":[{\"snapshot\":\"internal\"}]}", 400, "name"),
                new Bad("POST", "/api/domains/nosuch/snapshots", "{}", 404, "nosuch"),
                new Bad("POST", "/api/domains/..%2Fx/snapshots", "{}", 400, "../x"),
                new Bad("POST", "/api/domains/vm1/snapshots/s1/revert", "{\"running\":true,\"paused\":true}", 400,
                        "--running and --paused are mutually exclusive"),
                new Bad("POST", "/api/domains/vm1/snapshots/nosuch/revert", "{}", 404, "nosuch"),
                new Bad("POST", "/api/domains/vm1/snapshots/s1/revert", "{\"forse\":true}", 400, "forse"),
                new Bad("DELETE", "/api/domains/vm1/snapshots/s1", "{\"children\":true,\"childrenOnly\":true}", 400,
                        "mutually exclusive"),
                new Bad("DELETE", "/api/domains/vm1/snapshots/nosuch", "", 404, "nosuch"),
                new Bad("PUT", "/api/domains/vm1/snapshots/s1", "{}", 405, "PUT"),
                new Bad("GET", "/api/domains/vm1/snapshots/s1/revert", null, 405, "GET"),
                new Bad("GET", "/api/jobs/0123456789abcdef", null, 404, "no job"),
                new Bad("GET", "/api/jobs/0123456789abcdef/events", null, 404, "no job"),
                new Bad("GET", "/api/jobs/x/y", null, 404, "no resource"));
        for (Bad b : bad) {
            HttpRequest.Builder r = req(b.path()).header("Origin", server.url());
            HttpResponse<String> resp = send(b.body() == null ? r.method(b.method(), HttpRequest.BodyPublishers.noBody())
                    : r.method(b.method(), HttpRequest.BodyPublishers.ofString(b.body())));
            assertThat(resp.statusCode()).as("%s %s %s: %s", b.method(), b.path(), b.body(), resp.body())
                    .isEqualTo(b.status());
            assertThat(resp.body()).as(b.path()).endsWith("\n").hasLineCount(1).doesNotContain("\tat ");
            assertThat((String) map(resp.body()).get("error")).as(b.path()).contains(b.says());
        }
        // Another page's POST is refused before anything is read.
        HttpResponse<String> forged = send(req("/api/domains/vm1/snapshots/s1/revert").header("Origin", "http://evil.example")
                .POST(HttpRequest.BodyPublishers.ofString("{}")));
        assertThat(forged.statusCode()).isEqualTo(403);
        HttpResponse<String> noToken = client.send(HttpRequest.newBuilder(URI.create(server.url()
                + "/api/domains/vm1/snapshots/s1")).DELETE().build(), HttpResponse.BodyHandlers.ofString());
        assertThat(noToken.statusCode()).isEqualTo(401);
        Thread.sleep(200); // had any of them started a job, give it time to act
        assertThat(files()).isEqualTo(before);
        SnapshotTree tree = domains.snapshots("vm1").tree();
        assertThat(tree.all()).extracting(SnapshotDef::name).containsExactly("s1", "s2");
        assertThat(tree.current()).isEqualTo("s2");
    }

    @Test
    void concurrentCreatesOnOneDomainAllLandOneAfterAnother() throws Exception {
        int n = 6;
        List<Future<Map<String, Object>>> runs = new ArrayList<>();
        try (ExecutorService pool = Executors.newFixedThreadPool(n)) {
            for (int i = 0; i < n; i++) {
                String body = "{\"name\":\"c" + i + "\"}";
                runs.add(pool.submit(() -> run(post("/api/domains/vm1/snapshots", body))));
            }
            for (Future<Map<String, Object>> f : runs) {
                assertThat(f.get()).containsEntry("state", "succeeded");
            }
        }
        SnapshotTree tree = domains.snapshots("vm1").tree();
        assertThat(tree.all()).hasSize(n);
        // Serialized by the domain lock: one chain, each made on top of the one made before it.
        assertThat(tree.roots()).hasSize(1);
        String at = tree.roots().getFirst().name();
        for (int i = 1; i < n; i++) {
            assertThat(tree.children(at)).hasSize(1);
            at = tree.children(at).getFirst().name();
        }
        assertThat(tree.current()).isEqualTo(at);
        assertThat(internalSnapshots(vda)).hasSize(n).containsExactlyInAnyOrderElementsOf(
                tree.all().stream().map(SnapshotDef::name).toList());
    }

    @Test
    void theEventsOfAnEndedJobAreItsEndAtOnce() throws Exception {
        Map<String, Object> end = run(post("/api/domains/vm1/snapshots", "{\"name\":\"s1\"}"));
        String id = (String) end.get("id");
        String body = send(req("/api/jobs/" + id + "/events")).body();
        assertThat(body).isEqualTo("event: end\ndata: " + JSON.writeValueAsString(end) + "\n\n");
    }
}
