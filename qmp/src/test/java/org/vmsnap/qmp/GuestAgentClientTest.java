package org.vmsnap.qmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** GuestAgentClient against a scripted agent on a real UNIX socket. */
class GuestAgentClientTest {

    private static final Duration SHORT = Duration.ofMillis(400);

    @TempDir
    Path dir;

    @AfterEach
    void noThreadLeft() throws InterruptedException {
        Leaks.assertNoVmsnapThreads();
    }

    /** Answers the next request, which must be {@code command}, with {@code returnJson}. */
    private static CompletableFuture<Void> answer(ScriptedPeer agent, String command, String returnJson) {
        return CompletableFuture.runAsync(() -> {
            try {
                JsonNode request = agent.receive();
                assertThat(request.path("execute").asText()).isEqualTo(command);
                if (returnJson != null) {
                    agent.send("{\"return\": " + returnJson + "}");
                }
            } catch (Exception e) {
                throw new CompletionException(e);
            }
        });
    }

    @Test
    void resyncSkipsEverythingUpToTheDelimiterAndStaleSyncAnswers() throws Exception {
        try (ScriptedPeer agent = new ScriptedPeer(dir.resolve("qga.sock"))) {
            CompletableFuture<GuestAgentClient> connecting = CompletableFuture.supplyAsync(() -> {
                try {
                    return GuestAgentClient.connect(agent.path(), Duration.ofSeconds(10));
                } catch (QmpException e) {
                    throw new CompletionException(e);
                }
            });
            assertThat(agent.receive().asText()).isEqualTo("<0xFF>");
            JsonNode sync = agent.receive();
            long id = sync.path("arguments").path("id").asLong();
            assertThat(id).isPositive();
            // left-overs of an earlier client: a half answer, an old sync answer, then ours
            agent.sendRaw("{\"return\": {\"half\": ".getBytes(StandardCharsets.UTF_8));
            agent.sendRaw(new byte[] {(byte) 0xFF});
            agent.send("{\"return\": " + (id + 1) + "}");
            agent.sendRaw(new byte[] {(byte) 0xFF});
            agent.send("{\"return\": " + id + "}");
            try (GuestAgentClient qga = connecting.get(10, TimeUnit.SECONDS)) {
                CompletableFuture<Void> served = answer(agent, "guest-ping", "{}");
                qga.ping();
                served.get(10, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void infoListsTheEnabledCommands() throws Exception {
        try (ScriptedPeer agent = new ScriptedPeer(dir.resolve("qga.sock"));
             GuestAgentClient qga = agent.connectAgent(Duration.ofSeconds(10))) {
            answer(agent, "guest-info", "{\"version\": \"7.2.22\", \"supported_commands\": ["
                    + "{\"enabled\": true, \"name\": \"guest-ping\", \"success-response\": true},"
                    + "{\"enabled\": false, \"name\": \"guest-exec\", \"success-response\": true}]}");
            GuestAgentClient.AgentInfo info = qga.info();
            assertThat(info.version()).isEqualTo("7.2.22");
            assertThat(info.enabledCommands()).containsExactly("guest-ping");
        }
    }

    @Test
    void noAgentInTheGuestIsATimeoutSayingSo() throws Exception {
        // QEMU accepts connections on the agent's socket even when nothing runs in the guest
        try (ScriptedPeer silent = new ScriptedPeer(dir.resolve("qga.sock"))) {
            assertThatThrownBy(() -> GuestAgentClient.connect(silent.path(), SHORT))
                    .isInstanceOf(QmpTimeoutException.class)
                    .hasMessageContaining("no guest agent responded").hasMessageContaining("qga.sock");
        }
    }

    @Test
    void aMissingSocketIsAConnectError() {
        assertThatThrownBy(() -> GuestAgentClient.connect(dir.resolve("none.sock"), SHORT))
                .isInstanceOf(QmpConnectException.class).hasMessageContaining("none.sock");
    }

    @Test
    void errorAnswersKeepTheClass() throws Exception {
        try (ScriptedPeer agent = new ScriptedPeer(dir.resolve("qga.sock"));
             GuestAgentClient qga = agent.connectAgent(Duration.ofSeconds(10))) {
            CompletableFuture.runAsync(() -> {
                try {
                    agent.receive();
                    agent.send("{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"Command guest-x has not been found\"}}");
                } catch (Exception e) {
                    throw new CompletionException(e);
                }
            });
            assertThatThrownBy(() -> qga.call("guest-x", null))
                    .isInstanceOfSatisfying(QmpCommandException.class, e -> assertThat(e.errorClass()).isEqualTo("CommandNotFound"));
        }
    }

    @Test
    void aTimedOutCallResyncsBeforeTheNextOne() throws Exception {
        try (ScriptedPeer agent = new ScriptedPeer(dir.resolve("qga.sock"));
             GuestAgentClient qga = agent.connectAgent(SHORT)) {
            CompletableFuture<Void> ignored = answer(agent, "guest-fsfreeze-status", null);
            assertThatThrownBy(qga::fsfreezeStatus).isInstanceOf(QmpTimeoutException.class);
            ignored.get(10, TimeUnit.SECONDS);
            CompletableFuture<Void> served = CompletableFuture.runAsync(() -> {
                try {
                    agent.send("{\"return\": \"late answer to the status\"}");
                    agent.answerAgentSync();
                    JsonNode ping = agent.receive();
                    assertThat(ping.path("execute").asText()).isEqualTo("guest-ping");
                    agent.send("{\"return\": {}}");
                } catch (Exception e) {
                    throw new CompletionException(e);
                }
            });
            qga.ping();
            served.get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void thawIfFrozenThawsOnlyAFrozenGuest() throws Exception {
        try (ScriptedPeer agent = new ScriptedPeer(dir.resolve("qga.sock"));
             GuestAgentClient qga = agent.connectAgent(Duration.ofSeconds(10))) {
            CompletableFuture<Void> frozen = answer(agent, "guest-fsfreeze-status", "\"frozen\"")
                    .thenCompose(v -> answer(agent, "guest-fsfreeze-thaw", "1"));
            assertThat(qga.thawIfFrozen()).isTrue();
            frozen.get(10, TimeUnit.SECONDS);
            CompletableFuture<Void> thawed = answer(agent, "guest-fsfreeze-status", "\"thawed\"");
            assertThat(qga.thawIfFrozen()).isFalse();
            thawed.get(10, TimeUnit.SECONDS);
            assertThat(agent.receiveWithin(Duration.ofMillis(200))).as("no thaw for a thawed guest").isNull();
        }
    }

    @Test
    void whileFrozenThawsAfterTheAction() throws Exception {
        try (ScriptedPeer agent = new ScriptedPeer(dir.resolve("qga.sock"));
             GuestAgentClient qga = agent.connectAgent(Duration.ofSeconds(10))) {
            CompletableFuture<Void> served = answer(agent, "guest-fsfreeze-freeze", "1")
                    .thenCompose(v -> answer(agent, "guest-fsfreeze-thaw", "1"));
            GuestAgentClient.Frozen<String> frozen = qga.whileFrozen(null, () -> "snapshot taken");
            served.get(10, TimeUnit.SECONDS);
            assertThat(frozen.result()).isEqualTo("snapshot taken");
            assertThat(frozen.frozenFilesystems()).isEqualTo(1);
            assertThat(frozen.thawed()).isTrue();
            assertThat(frozen.requireThawed()).isEqualTo("snapshot taken");
        }
    }

    @Test
    void whileFrozenThawsWhenTheActionFails() throws Exception {
        try (ScriptedPeer agent = new ScriptedPeer(dir.resolve("qga.sock"));
             GuestAgentClient qga = agent.connectAgent(Duration.ofSeconds(10))) {
            CompletableFuture<Void> served = CompletableFuture.runAsync(() -> {
                try {
                    JsonNode freeze = agent.receive();
                    assertThat(freeze.path("execute").asText()).isEqualTo("guest-fsfreeze-freeze-list");
                    assertThat(freeze.path("arguments").path("mountpoints").get(0).asText()).isEqualTo("/data");
                    agent.send("{\"return\": 1}");
                } catch (Exception e) {
                    throw new CompletionException(e);
                }
            }).thenCompose(v -> answer(agent, "guest-fsfreeze-thaw", "1"));
            assertThatThrownBy(() -> qga.whileFrozen(List.of("/data"), () -> {
                throw new QmpTimeoutException("snapshot took too long");
            })).isInstanceOf(QmpTimeoutException.class).hasMessage("snapshot took too long").hasNoSuppressedExceptions();
            served.get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void anAgentThatHangsAfterFreezingGetsAThawAttemptAndTheFailureIsReported() throws Exception {
        try (ScriptedPeer agent = new ScriptedPeer(dir.resolve("qga.sock"));
             GuestAgentClient qga = agent.connectAgent(SHORT)) {
            // the agent freezes, then never answers again
            CompletableFuture<Void> served = answer(agent, "guest-fsfreeze-freeze", "2")
                    .thenCompose(v -> answer(agent, "guest-fsfreeze-thaw", null));
            GuestAgentClient.Frozen<Integer> frozen = qga.whileFrozen(null, () -> 42);
            served.get(10, TimeUnit.SECONDS);
            assertThat(frozen.result()).isEqualTo(42);
            assertThat(frozen.thawed()).isFalse();
            assertThat(frozen.thawFailure()).hasMessageContaining("could not thaw").hasMessageContaining("may still be frozen")
                    .hasCauseInstanceOf(QmpTimeoutException.class);
            assertThatThrownBy(frozen::requireThawed).isSameAs(frozen.thawFailure());
        }
    }

    @Test
    void aFreezeThatTimesOutIsStillFollowedByAThaw_andTheActionDoesNotRun() throws Exception {
        try (ScriptedPeer agent = new ScriptedPeer(dir.resolve("qga.sock"));
             GuestAgentClient qga = agent.connectAgent(SHORT)) {
            CompletableFuture<Void> served = answer(agent, "guest-fsfreeze-freeze", null)
                    .thenRun(() -> {
                        try {
                            agent.answerAgentSync(); // the thaw resyncs first: the freeze's answer never came
                        } catch (Exception e) {
                            throw new CompletionException(e);
                        }
                    })
                    .thenCompose(v -> answer(agent, "guest-fsfreeze-thaw", "0"));
            boolean[] ran = {false};
            assertThatThrownBy(() -> qga.whileFrozen(null, () -> ran[0] = true))
                    .isInstanceOf(QmpTimeoutException.class).hasMessageContaining("guest-fsfreeze-freeze")
                    .hasNoSuppressedExceptions();
            served.get(10, TimeUnit.SECONDS);
            assertThat(ran[0]).isFalse();
        }
    }

    @Test
    void whenTheActionAndTheThawBothFailTheThawFailureIsSuppressedInTheActionFailure() throws Exception {
        try (ScriptedPeer agent = new ScriptedPeer(dir.resolve("qga.sock"));
             GuestAgentClient qga = agent.connectAgent(SHORT)) {
            CompletableFuture<Void> served = answer(agent, "guest-fsfreeze-freeze", "1")
                    .thenRun(() -> {
                        try {
                            agent.disconnect(); // the agent's side goes away before the thaw
                        } catch (Exception e) {
                            throw new CompletionException(e);
                        }
                    });
            assertThatThrownBy(() -> qga.whileFrozen(null, () -> {
                served.get(10, TimeUnit.SECONDS);
                throw new IllegalStateException("snapshot failed");
            })).isInstanceOf(IllegalStateException.class)
                    .satisfies(e -> assertThat(e.getSuppressed()).singleElement().isInstanceOf(GuestThawException.class));
        }
    }
}
