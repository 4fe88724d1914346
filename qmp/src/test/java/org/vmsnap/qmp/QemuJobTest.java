package org.vmsnap.qmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** QemuJob against a scripted QMP server that plays QEMU's job events. */
class QemuJobTest {

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

    /** {@code QemuJob.run} of {@code command} on another thread (its QMP failures as the future's). */
    private static CompletableFuture<Void> runAsync(QmpClient qmp, String command, ObjectNode arguments, Duration timeout,
                                                    QemuJob.ProgressListener progress) {
        return CompletableFuture.runAsync(() -> {
            try {
                QemuJob.run(qmp, command, arguments, timeout, progress);
            } catch (QmpException e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        });
    }

    private static CompletableFuture<Void> runAsync(QmpClient qmp, String jobId, Duration timeout) {
        return runAsync(qmp, "snapshot-save", QmpClient.arguments().put("job-id", jobId).put("tag", "s1"), timeout, null);
    }

    private static CompletableFuture<Void> commitAsync(QmpClient qmp, String jobId) {
        return runAsync(qmp, "block-commit", QmpClient.arguments().put("job-id", jobId).put("device", "d0"), T, null);
    }

    private static void status(ScriptedPeer peer, String id, String status) throws Exception {
        peer.event("JOB_STATUS_CHANGE", "{\"id\": \"" + id + "\", \"status\": \"" + status + "\"}");
    }

    private static Throwable failureOf(CompletableFuture<?> f) throws Exception {
        assertThat(f).failsWithin(10, TimeUnit.SECONDS);
        return f.handle((r, e) -> e instanceof java.util.concurrent.CompletionException c ? c.getCause() : e).get();
    }

    @Test
    void runsAJobToCompletionAndDismissesIt_eventsMayBeatTheReply() throws Exception {
        try (ScriptedPeer peer = new ScriptedPeer(dir.resolve("qmp.sock"));
             QmpClient qmp = connected(peer)) {
            CompletableFuture<Void> job = runAsync(qmp, "save1", T);
            JsonNode start = peer.receive();
            assertThat(start.path("execute").asText()).isEqualTo("snapshot-save");
            // a fast job: its events arrive before the reply to the command
            status(peer, "save1", "created");
            status(peer, "other", "concluded"); // another job's event is not ours
            status(peer, "save1", "running");
            status(peer, "save1", "waiting");
            status(peer, "save1", "pending");
            status(peer, "save1", "concluded");
            peer.reply(start, "{}");
            JsonNode query = peer.receive();
            assertThat(query.path("execute").asText()).isEqualTo("query-jobs");
            peer.reply(query, "[{\"id\": \"save1\", \"type\": \"snapshot-save\", \"status\": \"concluded\","
                    + " \"current-progress\": 1, \"total-progress\": 1}]");
            JsonNode dismiss = peer.receive();
            assertThat(dismiss.path("execute").asText()).isEqualTo("job-dismiss");
            assertThat(dismiss.path("arguments").path("id").asText()).isEqualTo("save1");
            peer.reply(dismiss, "{}");
            status(peer, "save1", "null");
            assertThat(job).succeedsWithin(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void aJobErrorIsReportedAndTheJobIsStillDismissed() throws Exception {
        try (ScriptedPeer peer = new ScriptedPeer(dir.resolve("qmp.sock"));
             QmpClient qmp = connected(peer)) {
            CompletableFuture<Void> job = runAsync(qmp, "save2", T);
            peer.reply(peer.receive(), "{}");
            status(peer, "save2", "running");
            status(peer, "save2", "aborting");
            status(peer, "save2", "concluded");
            JsonNode query = peer.receive();
            peer.reply(query, "[{\"id\": \"save2\", \"status\": \"concluded\", \"error\":"
                    + " \"Device 'd0' is writable but does not support snapshots\"}]");
            JsonNode dismiss = peer.receive();
            assertThat(dismiss.path("execute").asText()).isEqualTo("job-dismiss");
            peer.reply(dismiss, "{}");
            Throwable failure = failureOf(job);
            assertThat(failure).isInstanceOf(QmpJobException.class)
                    .hasMessageContaining("snapshot-save job 'save2' failed: Device 'd0' is writable");
            assertThat(((QmpJobException) failure).jobId()).isEqualTo("save2");
        }
    }

    @Test
    void aReadyJobIsCompleted() throws Exception {
        try (ScriptedPeer peer = new ScriptedPeer(dir.resolve("qmp.sock"));
             QmpClient qmp = connected(peer)) {
            CompletableFuture<Void> job = commitAsync(qmp, "commit1");
            peer.reply(peer.receive(), "{}");
            status(peer, "commit1", "running");
            status(peer, "commit1", "ready");
            JsonNode complete = peer.receive();
            assertThat(complete.path("execute").asText()).isEqualTo("job-complete");
            peer.reply(complete, "{}");
            status(peer, "commit1", "waiting");
            status(peer, "commit1", "pending");
            peer.event("BLOCK_JOB_COMPLETED", "{\"device\": \"commit1\", \"type\": \"commit\", \"len\": 1, \"offset\": 1}");
            status(peer, "commit1", "concluded");
            status(peer, "commit1", "null"); // a block job dismisses itself
            JsonNode query = peer.receive();
            assertThat(query.path("execute").asText()).isEqualTo("query-jobs");
            peer.reply(query, "[]");
            assertThat(job).succeedsWithin(10, TimeUnit.SECONDS);
            assertThat(peer.receiveWithin(Duration.ofMillis(200))).as("no dismiss for a job QEMU no longer lists").isNull();
        }
    }

    /** The end of a block job that dismisses itself: concluded, null, and an empty query-jobs. */
    private static void concludeAndVanish(ScriptedPeer peer, String id) throws Exception {
        status(peer, id, "waiting");
        status(peer, id, "pending");
        status(peer, id, "concluded");
        status(peer, id, "null");
        JsonNode query = peer.receive();
        assertThat(query.path("execute").asText()).isEqualTo("query-jobs");
        peer.reply(query, "[]");
    }

    @Test
    void aReadyJobPausedByADrainIsCompletedOnceOnly() throws Exception {
        // QEMU pauses a ready job in every drained section (ready, standby, ready): a second
        // job-complete can meet the job concluded and be refused (seen on CI in a live delete).
        try (ScriptedPeer peer = new ScriptedPeer(dir.resolve("qmp.sock"));
             QmpClient qmp = connected(peer)) {
            CompletableFuture<Void> job = commitAsync(qmp, "commit2");
            peer.reply(peer.receive(), "{}");
            status(peer, "commit2", "running");
            status(peer, "commit2", "ready");
            JsonNode complete = peer.receive();
            assertThat(complete.path("execute").asText()).isEqualTo("job-complete");
            peer.reply(complete, "{}");
            status(peer, "commit2", "standby");
            status(peer, "commit2", "ready");
            concludeAndVanish(peer, "commit2");
            assertThat(job).succeedsWithin(10, TimeUnit.SECONDS);
            assertThat(peer.receiveWithin(Duration.ofMillis(200))).as("no second job-complete").isNull();
        }
    }

    @Test
    void aJobCompleteRefusedBecauseTheJobWasPausedMeanwhileIsSentAgainWhenItIsReadyAgain() throws Exception {
        try (ScriptedPeer peer = new ScriptedPeer(dir.resolve("qmp.sock"));
             QmpClient qmp = connected(peer)) {
            CompletableFuture<Void> job = commitAsync(qmp, "commit3");
            peer.reply(peer.receive(), "{}");
            status(peer, "commit3", "ready");
            JsonNode complete = peer.receive();
            peer.replyError(complete, "GenericError", "Job 'commit3' in state 'standby' cannot accept command verb 'complete'");
            JsonNode query = peer.receive();
            assertThat(query.path("execute").asText()).isEqualTo("query-jobs");
            peer.reply(query, "[{\"id\": \"commit3\", \"type\": \"commit\", \"status\": \"standby\"}]");
            status(peer, "commit3", "standby");
            status(peer, "commit3", "ready");
            JsonNode again = peer.receive();
            assertThat(again.path("execute").asText()).isEqualTo("job-complete");
            peer.reply(again, "{}");
            concludeAndVanish(peer, "commit3");
            assertThat(job).succeedsWithin(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void aJobCompleteRefusedWhileTheJobIsStillReadyIsAnError() throws Exception {
        try (ScriptedPeer peer = new ScriptedPeer(dir.resolve("qmp.sock"));
             QmpClient qmp = connected(peer)) {
            CompletableFuture<Void> job = commitAsync(qmp, "commit4");
            peer.reply(peer.receive(), "{}");
            status(peer, "commit4", "ready");
            peer.replyError(peer.receive(), "GenericError", "refused for a reason of its own");
            peer.reply(peer.receive(), "[{\"id\": \"commit4\", \"type\": \"commit\", \"status\": \"ready\"}]");
            Throwable failure = failureOf(job);
            assertThat(failure).isInstanceOf(QmpCommandException.class).hasMessageContaining("job-complete")
                    .hasMessageContaining("refused for a reason of its own");
        }
    }

    @Test
    void aJobStartedWithoutAutoFinalizeIsFinalizedAndDismissed() throws Exception {
        try (ScriptedPeer peer = new ScriptedPeer(dir.resolve("qmp.sock"));
             QmpClient qmp = connected(peer)) {
            CompletableFuture<Void> job = runAsync(qmp, "block-stream", QmpClient.arguments().put("job-id", "s1")
                    .put("device", "d0").put("auto-finalize", false).put("auto-dismiss", false), T, null);
            peer.reply(peer.receive(), "{}");
            status(peer, "s1", "running");
            status(peer, "s1", "waiting");
            status(peer, "s1", "pending");
            JsonNode finalize = peer.receive();
            assertThat(finalize.path("execute").asText()).isEqualTo("job-finalize");
            peer.reply(finalize, "{}");
            status(peer, "s1", "concluded");
            JsonNode query = peer.receive();
            peer.reply(query, "[{\"id\": \"s1\", \"status\": \"concluded\"}]");
            JsonNode dismiss = peer.receive();
            assertThat(dismiss.path("execute").asText()).isEqualTo("job-dismiss");
            peer.reply(dismiss, "{}");
            assertThat(job).succeedsWithin(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void qemuRefusingToStartTheJobIsACommandError() throws Exception {
        try (ScriptedPeer peer = new ScriptedPeer(dir.resolve("qmp.sock"));
             QmpClient qmp = connected(peer)) {
            CompletableFuture<Void> job = runAsync(qmp, "save3", T);
            peer.replyError(peer.receive(), "GenericError", "No block device can accept snapshots");
            assertThat(failureOf(job)).isExactlyInstanceOf(QmpCommandException.class)
                    .hasMessageContaining("No block device can accept snapshots");
        }
    }

    @Test
    void qemuExitingDuringAJobIsADisconnect() throws Exception {
        try (ScriptedPeer peer = new ScriptedPeer(dir.resolve("qmp.sock"));
             QmpClient qmp = connected(peer)) {
            CompletableFuture<Void> job = runAsync(qmp, "save4", T);
            peer.reply(peer.receive(), "{}");
            status(peer, "save4", "running");
            peer.disconnect();
            assertThat(failureOf(job)).isInstanceOf(QmpDisconnectedException.class);
        }
    }

    @Test
    void aJobThatDoesNotEndInTimeIsCancelled() throws Exception {
        try (ScriptedPeer peer = new ScriptedPeer(dir.resolve("qmp.sock"));
             QmpClient qmp = connected(peer)) {
            CompletableFuture<Void> job = runAsync(qmp, "save5", Duration.ofMillis(300));
            peer.reply(peer.receive(), "{}");
            status(peer, "save5", "running");
            JsonNode cancel = peer.receive();
            assertThat(cancel.path("execute").asText()).isEqualTo("job-cancel");
            peer.reply(cancel, "{}");
            assertThat(failureOf(job)).isInstanceOf(QmpTimeoutException.class)
                    .hasMessageContaining("last status: running").hasMessageContaining("cancelled");
        }
    }

    @Test
    void theJobIdIsRequired() throws Exception {
        try (ScriptedPeer peer = new ScriptedPeer(dir.resolve("qmp.sock"));
             QmpClient qmp = connected(peer)) {
            assertThatThrownBy(() -> QemuJob.run(qmp, "snapshot-save", QmpClient.arguments(), T))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("job-id");
        }
    }

    @Test
    void aRunningJobReportsItsProgressUntilItEnds() throws Exception {
        try (ScriptedPeer peer = new ScriptedPeer(dir.resolve("qmp.sock"));
             QmpClient qmp = connected(peer)) {
            java.util.List<long[]> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
            CompletableFuture<Void> job = runAsync(qmp, "block-commit", QmpClient.arguments().put("job-id", "c1"), T,
                    (done, total) -> seen.add(new long[] {done, total}));
            JsonNode start = peer.receive();
            peer.reply(start, "{}");
            status(peer, "c1", "running");
            // no event for a while: the job is asked how far it is
            JsonNode poll = peer.receive();
            assertThat(poll.path("execute").asText()).isEqualTo("query-jobs");
            peer.reply(poll, "[{\"id\": \"c1\", \"type\": \"commit\", \"status\": \"running\","
                    + " \"current-progress\": 300, \"total-progress\": 1000}]");
            status(peer, "c1", "concluded");
            JsonNode query = peer.receive();
            peer.reply(query, "[]"); // dismissed itself
            assertThat(job).succeedsWithin(10, TimeUnit.SECONDS);
            assertThat(seen).extracting(a -> a[0] + "/" + a[1]).contains("300/1000");
        }
    }
}
