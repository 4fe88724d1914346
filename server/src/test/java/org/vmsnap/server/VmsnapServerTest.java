package org.vmsnap.server;

import org.vmsnap.testkit.ShutOffDomainXml;
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
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.manager.CreateFlags;
import org.vmsnap.manager.DomainService;
import org.vmsnap.manager.DomainStatus;
import org.vmsnap.manager.ManagerException;
import org.vmsnap.manager.SnapshotService;
import org.vmsnap.manager.SnapshotTree;
import org.vmsnap.manager.xml.DiskDef;
import org.vmsnap.manager.xml.SnapshotDef;
import org.vmsnap.manager.xml.SnapshotDisk;
import org.vmsnap.manager.xml.SnapshotMode;
import org.vmsnap.qcow2.Qcow2CreateOptions;
import org.vmsnap.qcow2.Qcow2Image;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The server in process on a free loopback port: its refusals (401, 403, 404, 405, 413) and the
 * read-only API compared with what the manager itself reports for a shut-off domain with two
 * qcow2 disks and a branched tree of internal and external snapshots.
 */
class VmsnapServerTest extends ServerTestBase {
    static SnapshotDef request(String name, SnapshotMode... modes) {
        List<SnapshotDisk> disks = modes.length == 0 ? List.of()
                : List.of(new SnapshotDisk("vda", modes[0], null, null), new SnapshotDisk("vdb", modes[1], null, null));
        return new SnapshotDef(name, null, null, 0, null, null, null, disks, null);
    }

    HttpRequest.Builder get(String path) {
        return req(path);
    }

    static String error(HttpResponse<String> r) throws IOException {
        assertThat(r.body()).endsWith("\n").doesNotContain("\tat ").hasLineCount(1);
        return JSON.readValue(r.body(), new TypeReference<Map<String, String>>() { }).get("error");
    }

    @Test
    void tokenFileIsPrivateHexAndGoneAfterClose() throws IOException {
        Path file = server.tokenFile();
        assertThat(file).isEqualTo(domains.home().resolve("serve-token"));
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
        assertThat(token).matches("[0-9a-f]{64}");
        server.close();
        assertThat(file).doesNotExist();
        server = VmsnapServer.start(domains, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        assertThat(Files.readString(server.tokenFile()).strip()).isNotEqualTo(token);
    }

    @Test
    void aSecondServerOnTheSameStateFolderIsRefusedAndTheFirstKeepsItsToken() throws IOException {
        assertThatThrownBy(() -> VmsnapServer.start(domains,
                new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)))
                .isInstanceOf(ManagerException.class).hasMessageContaining("serve-token exists");
        assertThat(Files.readString(server.tokenFile()).strip()).isEqualTo(token);
    }

    @Test
    void aSymlinkAtTheTokenNameIsNotFollowed() throws IOException {
        Path other = Files.createDirectories(tmp.resolve("other"));
        Path target = tmp.resolve("victim");
        Files.writeString(target, "keep");
        Files.createSymbolicLink(other.resolve("serve-token"), target);
        assertThatThrownBy(() -> ServeToken.create(other)).isInstanceOf(ManagerException.class);
        assertThat(Files.readString(target)).isEqualTo("keep");
    }

    @Test
    void requestsWithoutTheRightTokenAre401() throws Exception {
        HttpResponse<String> none = send(HttpRequest.newBuilder(URI.create(server.url() + "/api/domains")));
        assertThat(none.statusCode()).isEqualTo(401);
        assertThat(error(none)).contains("token");
        String wrong = token.substring(0, 63) + (token.endsWith("0") ? "1" : "0");
        for (String header : List.of("Bearer " + wrong, "Bearer " + token + "0", token, "Basic " + token)) {
            HttpResponse<String> r = send(HttpRequest.newBuilder(URI.create(server.url() + "/api/domains"))
                    .header("Authorization", header));
            assertThat(r.statusCode()).as(header).isEqualTo(401);
            assertThat(r.body()).doesNotContain("vm1");
        }
        // Unknown paths are not revealed without the token either.
        assertThat(send(HttpRequest.newBuilder(URI.create(server.url() + "/nothing"))).statusCode()).isEqualTo(401);
    }

    @Test
    void aStateChangingRequestFromAnotherOriginIs403() throws Exception {
        HttpResponse<String> r = send(get("/api/domains").header("Origin", "http://evil.example")
                .POST(HttpRequest.BodyPublishers.ofString("{}")));
        assertThat(r.statusCode()).isEqualTo(403);
        assertThat(error(r)).contains("evil.example");
        HttpResponse<String> del = send(get("/api/domains/vm1").header("Origin", "http://127.0.0.1:1").DELETE());
        assertThat(del.statusCode()).isEqualTo(403);
        // The served origin gets past the check (and then learns the method is not there yet).
        HttpResponse<String> same = send(get("/api/domains").header("Origin", server.url())
                .POST(HttpRequest.BodyPublishers.ofString("{}")));
        assertThat(same.statusCode()).isEqualTo(405);
        assertThat(same.headers().firstValue("Allow")).hasValue("GET");
        assertThat(domains.list()).hasSize(1);
    }

    @Test
    void aBodyOver64KiBIs413() throws Exception {
        HttpResponse<String> r = send(get("/api/domains")
                .POST(HttpRequest.BodyPublishers.ofByteArray(new byte[64 * 1024 + 1])));
        assertThat(r.statusCode()).isEqualTo(413);
        assertThat(error(r)).contains("65536");
        HttpResponse<String> exact = send(get("/api/domains")
                .POST(HttpRequest.BodyPublishers.ofByteArray(new byte[64 * 1024])));
        assertThat(exact.statusCode()).isEqualTo(405);
    }

    @Test
    void unknownPathsAre404AndUnknownDomainsTooWithOneLine() throws Exception {
        for (String p : List.of("/api", "/api/domains/vm1/nothing", "/api/domains/vm1/snapshots/x/y",
                "/api/domains/", "/index.html")) {
            HttpResponse<String> r = send(get(p));
            assertThat(r.statusCode()).as(p).isEqualTo(404);
            error(r);
        }
        HttpResponse<String> r = send(get("/api/domains/nosuch"));
        assertThat(r.statusCode()).isEqualTo(404);
        assertThat(error(r)).contains("Domain not found").contains("nosuch");
        assertThat(send(get("/api/domains/nosuch/snapshots")).statusCode()).isEqualTo(404);
    }

    @Test
    void namesAreValidatedByTheManagersRule() throws Exception {
        // A name with a slash never reaches the file system: the manager's name check refuses it.
        HttpResponse<String> slash = send(get("/api/domains/..%2F..%2Fetc"));
        assertThat(slash.statusCode()).isEqualTo(400);
        assertThatThrownBy(() -> domains.status("../../etc")).hasMessage(error(slash));
    }

    @Test
    void domainsAndSnapshotsAreWhatTheManagerReports() throws Exception {
        SnapshotService s = domains.snapshots("vm1");
        s.create(request("s1").withDescription("first one"), CreateFlags.none());
        s.create(request("s2"), CreateFlags.none());
        s.revert("s1", false);
        s.create(request("s3", SnapshotMode.INTERNAL, SnapshotMode.EXTERNAL), CreateFlags.none());

        List<Map<String, Object>> list = JSON.readValue(send(get("/api/domains")).body(), new TypeReference<>() { });
        DomainStatus status = domains.status("vm1");
        assertThat(status.active()).isFalse();
        assertThat(list).containsExactly(Map.of("name", "vm1", "uuid", domains.list().getFirst().uuid(),
                "state", status.state().words()));

        HttpResponse<String> one = send(get("/api/domains/vm1"));
        assertThat(one.statusCode()).isEqualTo(200);
        Map<String, Object> dom = JSON.readValue(one.body(), new TypeReference<>() { });
        assertThat(dom).containsEntry("state", "shut off").doesNotContainKey("id");
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> disks = (List<Map<String, Object>>) dom.get("disks");
        List<DiskDef> defs = domains.get("vm1").disks();
        assertThat(disks).extracting(d -> d.get("target")).containsExactly("vda", "vdb");
        for (int i = 0; i < 2; i++) {
            assertThat(disks.get(i)).containsEntry("source", defs.get(i).source().toString())
                    .containsEntry("format", "qcow2");
        }
        // vdb's external snapshot put an overlay on top of b.qcow2: the chain names it.
        assertThat(disks.get(0).get("backingStore")).isEqualTo(List.of());
        assertThat(disks.get(1).get("backingStore")).isEqualTo(List.of(Map.of("source",
                tmp.resolve("disks/b.qcow2").toRealPath().toString(), "format", "qcow2")));

        List<Map<String, Object>> snaps = JSON.readValue(send(get("/api/domains/vm1/snapshots")).body(),
                new TypeReference<>() { });
        SnapshotTree tree = domains.snapshots("vm1").tree();
        List<Object> expected = new ArrayList<>();
        for (SnapshotDef d : tree.topological()) {
            expected.add(JSON.readValue(JSON.writeValueAsString(Resources.snapshot(tree, d)), Map.class));
        }
        assertThat(snaps).isEqualTo(expected);
        // And against the manager's own values, field by field, not only through Resources.
        assertThat(snaps).extracting(m -> m.get("name")).containsExactly("s1", "s2", "s3");
        Map<String, Object> s1 = snaps.get(0);
        assertThat(s1).containsEntry("parent", null).containsEntry("current", false)
                .containsEntry("description", "first one").containsEntry("state", tree.get("s1").state())
                .containsEntry("creationTime", (int) tree.get("s1").creationTimeSec())
                .containsEntry("children", 2).containsEntry("location", "internal");
        assertThat(snaps.get(1)).containsEntry("parent", "s1").containsEntry("current", false);
        Map<String, Object> s3 = snaps.get(2);
        assertThat(s3).containsEntry("parent", "s1").containsEntry("current", true)
                .containsEntry("location", "external");
        assertThat(tree.current()).isEqualTo("s3");
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> s3disks = (List<Map<String, Object>>) s3.get("disks");
        assertThat(s3disks).extracting(d -> d.get("name"), d -> d.get("snapshot"))
                .containsExactly(org.assertj.core.groups.Tuple.tuple("vda", "internal"),
                        org.assertj.core.groups.Tuple.tuple("vdb", "external"));
        assertThat(s3disks.get(1).get("source")).isEqualTo(tree.get("s3").disk("vdb").source().toString());
    }

    @Test
    void thePageNeedsTheTokenInItsAddressAndAllowsOnlyItsOwnScript() throws Exception {
        HttpResponse<String> page = send(HttpRequest.newBuilder(URI.create(server.url() + "/?token=" + token)));
        assertThat(page.statusCode()).isEqualTo(200);
        assertThat(page.headers().firstValue("Content-Type")).hasValue("text/html; charset=utf-8");
        String csp = page.headers().firstValue("Content-Security-Policy").orElseThrow();
        String nonce = csp.replaceAll(".*script-src 'nonce-([^']+)'.*", "$1");
        assertThat(csp).contains("default-src 'none'").contains("connect-src 'self'").doesNotContain("unsafe");
        assertThat(page.body()).contains("<script nonce=\"" + nonce + "\">").contains("<style nonce=\"" + nonce + "\">")
                .doesNotContain("{{NONCE}}").contains("<svg id=\"tree\"");
        // Self-contained: no address but the SVG namespace's (a name, never fetched).
        assertThat(page.body().replace("http://www.w3.org/2000/svg", "")).doesNotContain("http:", "https:", "//cdn");
        assertThat(page.headers().firstValue("Referrer-Policy")).hasValue("no-referrer");
        // A fresh nonce per answer.
        HttpResponse<String> again = send(HttpRequest.newBuilder(URI.create(server.url() + "/?token=" + token)));
        assertThat(again.headers().firstValue("Content-Security-Policy").orElseThrow()).isNotEqualTo(csp);

        for (String bad : List.of("/", "/?token=", "/?token=" + token.substring(1), "/?x=" + token)) {
            HttpResponse<String> r = send(HttpRequest.newBuilder(URI.create(server.url() + bad)));
            assertThat(r.statusCode()).as(bad).isEqualTo(401);
            assertThat(r.body()).doesNotContain("<script");
        }
        // The query token opens the page only, never the API.
        assertThat(send(HttpRequest.newBuilder(URI.create(server.url() + "/api/domains?token=" + token)))
                .statusCode()).isEqualTo(401);
        HttpResponse<String> post = send(HttpRequest.newBuilder(URI.create(server.url() + "/?token=" + token))
                .POST(HttpRequest.BodyPublishers.noBody()));
        assertThat(post.statusCode()).isEqualTo(405);
    }

    @Test
    void theTreeIsTheLayoutOfTheManagersTree() throws Exception {
        SnapshotService s = domains.snapshots("vm1");
        s.create(request("s1"), CreateFlags.none());
        s.create(request("s2"), CreateFlags.none());
        s.revert("s1", false);
        s.create(request("s3", SnapshotMode.EXTERNAL, SnapshotMode.EXTERNAL), CreateFlags.none());
        Map<String, Object> tree = JSON.readValue(send(get("/api/domains/vm1/tree")).body(), new TypeReference<>() { });
        assertThat(tree).containsEntry("domain", "vm1").containsEntry("current", "s3").containsEntry("rows", 3)
                .containsEntry("columns", 2);
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> nodes = (List<Map<String, Object>>) tree.get("nodes");
        assertThat(nodes).extracting(n -> n.get("name"), n -> n.get("parent"), n -> n.get("row"), n -> n.get("column"),
                n -> n.get("current"), n -> n.get("location")).containsExactly(
                org.assertj.core.groups.Tuple.tuple("s1", null, 0, 0, false, "internal"),
                org.assertj.core.groups.Tuple.tuple("s2", "s1", 1, 0, false, "internal"),
                org.assertj.core.groups.Tuple.tuple("s3", "s1", 2, 1, true, "external"));
        assertThat(send(get("/api/domains/nosuch/tree")).statusCode()).isEqualTo(404);
    }
}
