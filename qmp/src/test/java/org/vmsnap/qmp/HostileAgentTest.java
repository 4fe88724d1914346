package org.vmsnap.qmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A guest agent controlled by an attacker inside the VM: huge, endless, malformed and slow
 * answers. None may hang vmsnap past its call's limit, make it hold the flood in memory, or
 * keep the next call from working once the agent behaves again. Memory is measured as what
 * the client's reader thread allocated while the flood went through (before the limits, a
 * 100 MB line cost over 300 MB: the line buffer and its string; a flood of 0xFF bytes a
 * queue node per byte).
 */
class HostileAgentTest {

    /** The limit of every call; generous, so a slow machine does not turn answers into timeouts. */
    private static final Duration LIMIT = Duration.ofSeconds(10);

    /** What the reader may allocate while skipping a flood: its 1 MiB line buffer and change. */
    private static final long READER_ALLOCATION_BOUND = 8L << 20;

    @TempDir
    Path dir;

    @AfterEach
    void noThreadLeft() throws InterruptedException {
        Leaks.assertNoVmsnapThreads();
    }

    @Test
    void aHundredMegabyteAnswerFailsTheCallWithoutBeingHeld_andTheNextCallResyncs() throws Exception {
        try (ScriptedPeer agent = new ScriptedPeer(dir.resolve("qga.sock"));
             GuestAgentClient qga = agent.connectAgent(LIMIT)) {
            long before = readerAllocatedBytes();
            byte[] huge = new byte[100 << 20];
            Arrays.fill(huge, (byte) 'x');
            huge[huge.length - 1] = '\n';
            CompletableFuture<Void> flood = serve(() -> {
                expect(agent, "guest-info");
                agent.sendRaw("{\"return\": \"".getBytes(StandardCharsets.UTF_8));
                agent.sendRaw(huge);
            });
            assertThatThrownBy(qga::info).isInstanceOf(QmpProtocolException.class)
                    .hasMessageContaining("answered 'guest-info' with a line longer than 1048576 bytes");
            flood.get(60, TimeUnit.SECONDS); // all 100 MB went through the client's reader
            assertThat(readerAllocatedBytes() - before).as("bytes the reader allocated for a 100 MB line")
                    .isLessThan(READER_ALLOCATION_BOUND);

            CompletableFuture<Void> served = serve(() -> {
                agent.answerAgentSync();
                expect(agent, "guest-fsfreeze-status");
                agent.send("{\"return\": \"thawed\"}");
            });
            assertThat(qga.fsfreezeStatus()).isEqualTo("thawed");
            served.get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void anAnswerThatNeverEndsFailsTheCall_andCloseReturns() throws Exception {
        try (ScriptedPeer agent = new ScriptedPeer(dir.resolve("qga.sock"));
             GuestAgentClient qga = agent.connectAgent(LIMIT)) {
            CompletableFuture<Void> endless = serve(() -> {
                expect(agent, "guest-fsfreeze-status");
                byte[] chunk = new byte[64 * 1024];
                Arrays.fill(chunk, (byte) '[');
                while (true) {
                    agent.sendRaw(chunk); // until the client closes the connection
                }
            });
            assertThatThrownBy(qga::fsfreezeStatus).isInstanceOf(QmpProtocolException.class)
                    .hasMessageContaining("line longer than");
            qga.close(); // the reader, still skipping the endless line, ends
            assertThatThrownBy(() -> endless.get(10, TimeUnit.SECONDS)).hasRootCauseInstanceOf(java.io.IOException.class);
        }
    }

    @Test
    void aFloodOf0xFFBytesEndsTheCallAtItsLimit_withABoundedQueue() throws Exception {
        try (ScriptedPeer agent = new ScriptedPeer(dir.resolve("qga.sock"));
             GuestAgentClient qga = agent.connectAgent(Duration.ofMillis(500))) {
            long before = readerAllocatedBytes();
            CompletableFuture<Void> flood = serve(() -> {
                expect(agent, "guest-ping");
                byte[] chunk = new byte[64 * 1024];
                Arrays.fill(chunk, (byte) 0xFF);
                while (true) {
                    agent.sendRaw(chunk);
                }
            });
            assertThatThrownBy(qga::ping).isInstanceOf(QmpTimeoutException.class)
                    .hasMessageContaining("no guest agent responded to 'guest-ping'");
            assertThat(readerAllocatedBytes() - before).as("bytes the reader allocated for a flood of 0xFF")
                    .isLessThan(READER_ALLOCATION_BOUND);
            qga.close();
            assertThatThrownBy(() -> flood.get(10, TimeUnit.SECONDS)).hasRootCauseInstanceOf(java.io.IOException.class);
        }
    }

    @Test
    void anAnswerDrippedSlowerThanTheLimitIsATimeout_notAWaitPerByte() throws Exception {
        try (ScriptedPeer agent = new ScriptedPeer(dir.resolve("qga.sock"));
             GuestAgentClient qga = agent.connectAgent(Duration.ofMillis(600))) {
            CompletableFuture<Void> drip = serve(() -> {
                expect(agent, "guest-fsfreeze-status");
                // one byte every 100 ms: each gap is well inside the limit, the whole answer is not
                for (byte b : "{\"return\": \"thawed\"}\n".getBytes(StandardCharsets.UTF_8)) {
                    agent.sendRaw(new byte[] {b});
                    Thread.sleep(100);
                }
            });
            assertThatThrownBy(qga::fsfreezeStatus).isInstanceOf(QmpTimeoutException.class);
            drip.get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void garbageAndNonObjectAnswersAreProtocolErrors_andTheNextCallResyncs() throws Exception {
        try (ScriptedPeer agent = new ScriptedPeer(dir.resolve("qga.sock"));
             GuestAgentClient qga = agent.connectAgent(LIMIT)) {
            for (String garbage : new String[] {"\u00ff\u00fe not json", "[1, 2, 3]", "{\"return\": " + "[".repeat(5000)}) {
                CompletableFuture<Void> served = serve(() -> {
                    expect(agent, "guest-ping");
                    agent.sendRaw((garbage + "\n").getBytes(StandardCharsets.ISO_8859_1));
                });
                assertThatThrownBy(qga::ping).as(garbage.substring(0, Math.min(10, garbage.length()))).isInstanceOf(QmpException.class)
                        .isNotInstanceOf(QmpTimeoutException.class);
                served.get(10, TimeUnit.SECONDS);
                CompletableFuture<Void> resync = serve(() -> {
                    agent.answerAgentSync();
                    expect(agent, "guest-ping");
                    agent.send("{\"return\": {}}");
                });
                qga.ping();
                resync.get(10, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void aGuestThatFloodsTheThawAnswerIsReportedAsPossiblyFrozen_andAThawLaterWorks() throws Exception {
        try (ScriptedPeer agent = new ScriptedPeer(dir.resolve("qga.sock"));
             GuestAgentClient qga = agent.connectAgent(LIMIT)) {
            CompletableFuture<Void> served = serve(() -> {
                expect(agent, "guest-fsfreeze-freeze");
                agent.send("{\"return\": 1}");
                expect(agent, "guest-fsfreeze-thaw");
                byte[] flood = new byte[4 << 20];
                Arrays.fill(flood, (byte) '7');
                agent.sendRaw(flood);
                agent.sendRaw(new byte[] {'\n'});
            });
            GuestAgentClient.Frozen<String> frozen = qga.whileFrozen(null, () -> "snapshot taken");
            served.get(30, TimeUnit.SECONDS);
            assertThat(frozen.result()).isEqualTo("snapshot taken");
            assertThat(frozen.thawed()).isFalse();
            assertThat(frozen.thawFailure()).hasMessageContaining("may still be frozen")
                    .hasCauseInstanceOf(QmpProtocolException.class);

            CompletableFuture<Void> thaw = serve(() -> {
                agent.answerAgentSync();
                expect(agent, "guest-fsfreeze-status");
                agent.send("{\"return\": \"frozen\"}");
                expect(agent, "guest-fsfreeze-thaw");
                agent.send("{\"return\": 1}");
            });
            assertThat(qga.thawIfFrozen()).isTrue();
            thaw.get(10, TimeUnit.SECONDS);
        }
    }

    // --- helpers ---------------------------------------------------------------------------

    @FunctionalInterface
    private interface Script {
        void run() throws Exception;
    }

    private static CompletableFuture<Void> serve(Script script) {
        return CompletableFuture.runAsync(() -> {
            try {
                script.run();
            } catch (Exception e) {
                throw new CompletionException(e);
            }
        });
    }

    private static void expect(ScriptedPeer agent, String command) throws Exception {
        JsonNode request = agent.receive();
        assertThat(request.path("execute").asText()).isEqualTo(command);
    }

    /** Bytes allocated so far by the client's reader thread (HotSpot's per-thread counter). */
    private static long readerAllocatedBytes() {
        Thread reader = Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("vmsnap-qga-reader "))
                .findFirst().orElseThrow(() -> new AssertionError("no agent reader thread"));
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        return threads.getThreadAllocatedBytes(reader.threadId());
    }
}
