package org.vmsnap.qmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** QmpClient against a scripted QMP server on a real UNIX socket. */
class QmpClientTest {

    private static final Duration T = Duration.ofSeconds(10);

    @TempDir
    Path dir;

    @AfterEach
    void noThreadLeft() throws InterruptedException {
        Leaks.assertNoVmsnapThreads();
    }

    private static QmpClient connected(ScriptedPeer peer) throws Exception {
        CompletableFuture<QmpClient> client = CompletableFuture.supplyAsync(() -> {
            try {
                return QmpClient.connect(peer.path(), T);
            } catch (QmpException e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        });
        peer.greetAndNegotiate();
        return client.get(10, TimeUnit.SECONDS);
    }

    private static Throwable failureOf(CompletableFuture<?> future) throws InterruptedException {
        try {
            future.get(10, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            return e.getCause();
        } catch (java.util.concurrent.TimeoutException e) {
            throw new AssertionError("the future did not complete", e);
        }
        throw new AssertionError("the future succeeded");
    }

    @Test
    void readsTheGreetingAndNegotiatesCapabilities() throws Exception {
        try (ScriptedPeer peer = new ScriptedPeer(dir.resolve("qmp.sock"));
             QmpClient qmp = connected(peer)) {
            assertThat(qmp.greeting().path("version").path("qemu").path("major").asInt()).isEqualTo(7);
            assertThat(qmp.isConnected()).isTrue();
            // greetAndNegotiate checked the first command was qmp_capabilities; it carried an id
            CompletableFuture<JsonNode> status = qmp.executeAsync("query-status", null);
            JsonNode request = peer.receive();
            assertThat(request.path("execute").asText()).isEqualTo("query-status");
            assertThat(request.has("arguments")).isFalse();
            peer.reply(request, "{\"status\": \"running\", \"running\": true}");
            assertThat(status.get(10, TimeUnit.SECONDS).path("status").asText()).isEqualTo("running");
        }
    }

    /**
     * QEMU writes a job's reply and its events at once: the caller woken by the reply finds the
     * events already queued, without waiting for the reader thread to run again.
     */
    @Test
    void eventsSentWithAReplyAreQueuedBeforeTheReplyIsHandedOver() throws Exception {
        try (ScriptedPeer peer = new ScriptedPeer(dir.resolve("qmp.sock"));
             QmpClient qmp = connected(peer);
             QmpClient.EventStream events = qmp.events(e -> e.name().equals("JOB_STATUS_CHANGE"))) {
            for (int round = 0; round < 20; round++) {
                CompletableFuture<JsonNode> sent = qmp.executeAsync("snapshot-load", null);
                JsonNode request = peer.receive();
                String stamp = "{\"timestamp\": {\"seconds\": 1700000000, \"microseconds\": 5}, \"event\": "
                        + "\"JOB_STATUS_CHANGE\", \"data\": {\"status\": \"";
                peer.sendRaw(("{\"return\": {}, \"id\": " + request.get("id") + "}\r\n"
                        + stamp + "created\", \"id\": \"j\"}}\r\n"
                        + stamp + "concluded\", \"id\": \"j\"}}\r\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
                sent.get(10, TimeUnit.SECONDS);
                assertThat(events.poll()).as("round %d: the first event, queued with the reply", round).isNotNull();
                assertThat(events.poll()).as("round %d: the second event, queued with the reply", round).isNotNull()
                        .extracting(e -> e.text("status")).isEqualTo("concluded");
            }
        }
    }

    /** A reply followed by empty lines or half a line, then silence, still reaches its caller. */
    @Test
    void aReplyIsHandedOverBeforeTheReaderWaitsForMore() throws Exception {
        try (ScriptedPeer peer = new ScriptedPeer(dir.resolve("qmp.sock"));
             QmpClient qmp = connected(peer)) {
            for (String tail : List.of("\r\n\r\n", "{\"event\": \"STO")) {
                CompletableFuture<JsonNode> sent = qmp.executeAsync("query-status", null);
                JsonNode request = peer.receive();
                peer.sendRaw(("{\"return\": {\"status\": \"running\"}, \"id\": " + request.get("id") + "}\r\n" + tail)
                        .getBytes(java.nio.charset.StandardCharsets.UTF_8));
                assertThat(sent.get(10, TimeUnit.SECONDS).path("status").asText()).as("after %s", tail).isEqualTo("running");
            }
        }
    }

    @Test
    void sendsArgumentsAndAFreshIdPerCommand() throws Exception {
        try (ScriptedPeer peer = new ScriptedPeer(dir.resolve("qmp.sock"));
             QmpClient qmp = connected(peer)) {
            qmp.executeAsync("cont", null);
            qmp.executeAsync("human-monitor-command", QmpClient.arguments().put("command-line", "info version"));
            JsonNode first = peer.receive();
            JsonNode second = peer.receive();
            assertThat(second.path("arguments").path("command-line").asText()).isEqualTo("info version");
            assertThat(first.get("id")).isNotEqualTo(second.get("id"));
        }
    }

    @Test
    void routesRepliesById_notByOrder() throws Exception {
        try (ScriptedPeer peer = new ScriptedPeer(dir.resolve("qmp.sock"));
             QmpClient qmp = connected(peer)) {
            CompletableFuture<JsonNode> a = qmp.executeAsync("query-name", null);
            CompletableFuture<JsonNode> b = qmp.executeAsync("query-uuid", null);
            JsonNode ra = peer.receive();
            JsonNode rb = peer.receive();
            peer.reply(rb, "{\"UUID\": \"u\"}");
            peer.reply(ra, "{\"name\": \"n\"}");
            assertThat(a.get(10, TimeUnit.SECONDS).path("name").asText()).isEqualTo("n");
            assertThat(b.get(10, TimeUnit.SECONDS).path("UUID").asText()).isEqualTo("u");
        }
    }

    @Test
    void anEventBetweenCommandAndReplyGoesToSubscribers_notToTheCommand() throws Exception {
        try (ScriptedPeer peer = new ScriptedPeer(dir.resolve("qmp.sock"));
             QmpClient qmp = connected(peer)) {
            List<QmpEvent> seen = new CopyOnWriteArrayList<>();
            QmpClient.Subscription subscription = qmp.subscribe(seen::add);
            try (QmpClient.EventStream stops = qmp.events(e -> e.name().equals("STOP"))) {
                CompletableFuture<JsonNode> stop = qmp.executeAsync("stop", null);
                JsonNode request = peer.receive();
                peer.event("STOP", "{}");
                peer.reply(request, "{}");
                assertThat(stop.get(10, TimeUnit.SECONDS).isEmpty()).isTrue();
                QmpEvent event = stops.next(T);
                assertThat(event.name()).isEqualTo("STOP");
                assertThat(event.timestamp().getEpochSecond()).isEqualTo(1_700_000_000L);
                assertThat(seen).extracting(QmpEvent::name).containsExactly("STOP");
            }
            subscription.close();
            peer.event("RESUME", "{}");
            CompletableFuture<JsonNode> after = qmp.executeAsync("query-status", null);
            peer.reply(peer.receive(), "{}");
            after.get(10, TimeUnit.SECONDS); // the reader has passed the RESUME event by now
            assertThat(seen).as("no events after unsubscribing").extracting(QmpEvent::name).containsExactly("STOP");
        }
    }

    @Test
    void errorRepliesKeepQemusClassAndDescription() throws Exception {
        try (ScriptedPeer peer = new ScriptedPeer(dir.resolve("qmp.sock"));
             QmpClient qmp = connected(peer)) {
            CompletableFuture<JsonNode> call = qmp.executeAsync("no-such-command", null);
            peer.replyError(peer.receive(), "CommandNotFound", "The command no-such-command has not been found");
            Throwable failure = failureOf(call);
            assertThat(failure).isInstanceOf(QmpCommandException.class)
                    .hasMessageContaining("no-such-command failed: CommandNotFound");
            QmpCommandException e = (QmpCommandException) failure;
            assertThat(e.errorClass()).isEqualTo("CommandNotFound");
            assertThat(e.description()).isEqualTo("The command no-such-command has not been found");
            assertThat(e.command()).isEqualTo("no-such-command");
            assertThat(qmp.isConnected()).as("an error reply is no reason to drop the connection").isTrue();
        }
    }

    @Test
    void synchronousExecuteThrowsTheCommandError() throws Exception {
        try (ScriptedPeer peer = new ScriptedPeer(dir.resolve("qmp.sock"));
             QmpClient qmp = connected(peer)) {
            CompletableFuture<Void> server = CompletableFuture.runAsync(() -> {
                try {
                    peer.replyError(peer.receive(), "DeviceNotFound", "Device 'x' not found");
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            assertThatThrownBy(() -> qmp.execute("eject", QmpClient.arguments().put("device", "x"), T))
                    .isInstanceOfSatisfying(QmpCommandException.class, e -> assertThat(e.errorClass()).isEqualTo("DeviceNotFound"));
            server.get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void anErrorWithoutIdFailsThePendingCommands() throws Exception {
        try (ScriptedPeer peer = new ScriptedPeer(dir.resolve("qmp.sock"));
             QmpClient qmp = connected(peer)) {
            CompletableFuture<JsonNode> call = qmp.executeAsync("query-status", null);
            peer.receive();
            peer.send("{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, invalid keyword\"}}");
            Throwable failure = failureOf(call);
            assertThat(failure).isInstanceOf(QmpCommandException.class).hasMessageContaining("reply without id");
            assertThat(((QmpCommandException) failure).errorClass()).isEqualTo("GenericError");
            // the connection is still usable afterwards
            CompletableFuture<JsonNode> next = qmp.executeAsync("query-status", null);
            peer.reply(peer.receive(), "{\"status\": \"paused\"}");
            assertThat(next.get(10, TimeUnit.SECONDS).path("status").asText()).isEqualTo("paused");
        }
    }

    @Test
    void disconnectMidCommandFailsEveryPendingCommandAndEventStream() throws Exception {
        try (ScriptedPeer peer = new ScriptedPeer(dir.resolve("qmp.sock"));
             QmpClient qmp = connected(peer)) {
            QmpClient.EventStream events = qmp.events(e -> true);
            CompletableFuture<JsonNode> a = qmp.executeAsync("snapshot-save", null);
            CompletableFuture<JsonNode> b = qmp.executeAsync("query-jobs", null);
            peer.receive();
            peer.receive();
            peer.disconnect();
            assertThat(failureOf(a)).isInstanceOf(QmpDisconnectedException.class)
                    .hasMessageContaining("'snapshot-save'").hasMessageContaining("qmp.sock");
            assertThat(failureOf(b)).isInstanceOf(QmpDisconnectedException.class).hasMessageContaining("'query-jobs'");
            assertThatThrownBy(() -> events.next(T)).isInstanceOf(QmpDisconnectedException.class);
            assertThat(qmp.isConnected()).isFalse();
            // later commands fail at once instead of hanging
            assertThatThrownBy(() -> qmp.execute("query-status", null, T)).isInstanceOf(QmpDisconnectedException.class);
        }
    }

    @Test
    void aSlowReplyTimesOut_andTheLateReplyIsDropped() throws Exception {
        try (ScriptedPeer peer = new ScriptedPeer(dir.resolve("qmp.sock"));
             QmpClient qmp = connected(peer)) {
            assertThatThrownBy(() -> qmp.execute("query-migrate", null, Duration.ofMillis(200)))
                    .isInstanceOf(QmpTimeoutException.class)
                    .hasMessageContaining("'query-migrate'").hasMessageContaining("PT0.2S");
            JsonNode late = peer.receive();
            peer.reply(late, "{\"status\": \"late\"}");
            CompletableFuture<JsonNode> next = qmp.executeAsync("query-status", null);
            peer.reply(peer.receive(), "{\"status\": \"running\"}");
            assertThat(next.get(10, TimeUnit.SECONDS).path("status").asText()).isEqualTo("running");
            assertThat(qmp.isConnected()).isTrue();
        }
    }

    @Test
    void anAsyncCommandWithATimeoutFailsWithQmpTimeout() throws Exception {
        try (ScriptedPeer peer = new ScriptedPeer(dir.resolve("qmp.sock"));
             QmpClient qmp = connected(peer)) {
            CompletableFuture<JsonNode> slow = qmp.executeAsync("query-cpus-fast", null, Duration.ofMillis(200));
            peer.receive();
            assertThat(failureOf(slow)).isInstanceOf(QmpTimeoutException.class).hasMessageContaining("'query-cpus-fast'");
            CompletableFuture<JsonNode> fast = qmp.executeAsync("query-name", null, Duration.ofSeconds(10));
            peer.reply(peer.receive(), "{}");
            assertThat(fast.get(10, TimeUnit.SECONDS).isEmpty()).isTrue();
        }
    }

    @Test
    void aReplyThatIsNotJsonIsAProtocolError() throws Exception {
        try (ScriptedPeer peer = new ScriptedPeer(dir.resolve("qmp.sock"));
             QmpClient qmp = connected(peer)) {
            CompletableFuture<JsonNode> call = qmp.executeAsync("query-status", null);
            peer.receive();
            peer.send("this is not json {");
            assertThat(failureOf(call)).isInstanceOf(QmpProtocolException.class)
                    .hasMessageContaining("not JSON").hasMessageContaining("this is not json");
            assertThat(qmp.isConnected()).isFalse();
        }
    }

    @Test
    void aMissingSocketIsAConnectError() {
        Path missing = dir.resolve("absent.sock");
        assertThatThrownBy(() -> QmpClient.connect(missing, T))
                .isInstanceOf(QmpConnectException.class).hasMessageContaining(missing.toString());
    }

    @Test
    void aRefusedSocketIsAConnectError() throws Exception {
        Path stale = dir.resolve("stale.sock");
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(stale));
        }
        assertThat(Files.exists(stale)).as("a socket file nobody listens on").isTrue();
        assertThatThrownBy(() -> QmpClient.connect(stale, T))
                .isInstanceOf(QmpConnectException.class).hasMessageContaining(stale.toString());
    }

    @Test
    void aPeerThatNeverGreetsIsAConnectError() throws Exception {
        try (ScriptedPeer peer = new ScriptedPeer(dir.resolve("mute.sock"))) {
            assertThatThrownBy(() -> QmpClient.connect(peer.path(), Duration.ofMillis(300)))
                    .isInstanceOf(QmpConnectException.class).hasMessageContaining("greeting");
        }
    }

    @Test
    void aPeerThatClosesBeforeGreetingIsAConnectError() throws Exception {
        try (ScriptedPeer peer = new ScriptedPeer(dir.resolve("qmp.sock"))) {
            CompletableFuture<Void> server = CompletableFuture.runAsync(() -> {
                try {
                    peer.disconnect();
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            assertThatThrownBy(() -> QmpClient.connect(peer.path(), T)).isInstanceOf(QmpConnectException.class);
            server.get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void waitForEventTimesOutWhenNoneMatches() throws Exception {
        try (ScriptedPeer peer = new ScriptedPeer(dir.resolve("qmp.sock"));
             QmpClient qmp = connected(peer)) {
            peer.event("RESUME", "{}");
            assertThatThrownBy(() -> qmp.waitForEvent(e -> e.name().equals("SHUTDOWN"), Duration.ofMillis(200)))
                    .isInstanceOf(QmpTimeoutException.class);
            CompletableFuture<QmpEvent> shutdown = CompletableFuture.supplyAsync(() -> {
                try {
                    return qmp.waitForEvent(e -> e.name().equals("SHUTDOWN"), T);
                } catch (QmpException e) {
                    throw new java.util.concurrent.CompletionException(e);
                }
            });
            Thread.sleep(100);
            peer.event("SHUTDOWN", "{\"guest\": true, \"reason\": \"guest-shutdown\"}");
            assertThat(shutdown.get(10, TimeUnit.SECONDS).text("reason")).isEqualTo("guest-shutdown");
        }
    }

    @Test
    void closeEndsTheReaderThreadAndFailsPendingCommands() throws Exception {
        try (ScriptedPeer peer = new ScriptedPeer(dir.resolve("qmp.sock"))) {
            QmpClient qmp = connected(peer);
            CompletableFuture<JsonNode> call = qmp.executeAsync("query-status", null);
            qmp.close();
            assertThat(failureOf(call)).isInstanceOf(QmpDisconnectedException.class).hasMessageContaining("closed by this client");
            assertThat(Thread.getAllStackTraces().keySet()).noneMatch(t -> t.getName().startsWith("vmsnap-qmp-reader"));
        }
    }

    /**
     * The --live checkpoint sends the disks' transaction and migrate-continue back to back: both
     * leave before either reply, and reply() gives each its own answer (an error to its own).
     */
    @Test
    void pipelinedCommandsLeaveBeforeAnyReply_andEachReplyIsCheckedOnItsOwn() throws Exception {
        try (ScriptedPeer peer = new ScriptedPeer(dir.resolve("qmp.sock"));
             QmpClient qmp = connected(peer)) {
            CompletableFuture<JsonNode> tx = qmp.executeAsync("transaction", null);
            CompletableFuture<JsonNode> go = qmp.executeAsync("migrate-continue", null);
            JsonNode first = peer.receive();
            JsonNode second = peer.receive();
            assertThat(first.path("execute").asText()).isEqualTo("transaction");
            assertThat(second.path("execute").asText()).isEqualTo("migrate-continue");
            peer.replyError(first, "GenericError", "Snapshot with name 't' already exists");
            peer.reply(second, "{}");
            assertThatThrownBy(() -> qmp.reply(tx, "transaction", T)).isInstanceOf(QmpCommandException.class)
                    .hasMessageContaining("already exists");
            assertThat(qmp.reply(go, "migrate-continue", T).isEmpty()).isTrue();
        }
    }

    /** poll() never waits: null while nothing has arrived, then the event, then the dropped connection. */
    @Test
    void pollTakesOnlyEventsAlreadyThere() throws Exception {
        try (ScriptedPeer peer = new ScriptedPeer(dir.resolve("qmp.sock"));
             QmpClient qmp = connected(peer);
             QmpClient.EventStream events = qmp.events(e -> e.name().equals("MIGRATION"))) {
            long t0 = System.nanoTime();
            assertThat(events.poll()).isNull();
            assertThat(System.nanoTime() - t0).as("no waiting").isLessThan(TimeUnit.SECONDS.toNanos(1));
            peer.event("MIGRATION", "{\"status\": \"failed\"}");
            QmpEvent e = null;
            for (long end = System.nanoTime() + T.toNanos(); e == null && System.nanoTime() < end; ) {
                e = events.poll();
                Thread.onSpinWait();
            }
            assertThat(e).isNotNull();
            assertThat(e.text("status")).isEqualTo("failed");
            assertThat(events.poll()).isNull();
            peer.disconnect();
            assertThat(failureOf(qmp.executeAsync("query-status", null))).isInstanceOf(QmpDisconnectedException.class);
            assertThatThrownBy(events::poll).isInstanceOf(QmpDisconnectedException.class);
        }
    }
}
