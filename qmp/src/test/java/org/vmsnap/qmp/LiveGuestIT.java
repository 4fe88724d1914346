package org.vmsnap.qmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.testkit.QemuImg;
import org.vmsnap.testkit.QemuTools;
import org.vmsnap.testkit.TestGuest;

/**
 * One real guest under QEMU 7.2, shared by the tests of this class in order: status,
 * guest agent, freeze/thaw, a transaction of two external snapshots taken while frozen, a
 * snapshot-save job, reconnecting through the pid file, and a graceful stop.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LiveGuestIT {

    private static final Duration T = LiveGuests.QMP;

    @TempDir
    static Path dir;

    private static Path runDir;
    private static Path data;
    private static Path scratch;
    private static QemuProcess qemu;

    @BeforeAll
    static void boot() throws Exception {
        runDir = dir.resolve("run");
        data = dir.resolve("data.qcow2");
        scratch = dir.resolve("scratch.qcow2");
        TestGuest.createDataDisk(data, 64);
        QemuImg.create(scratch, "qcow2", 16L << 20);
        VmSpec spec = LiveGuests.spec("live", 256, "", List.of(LiveGuests.disk("data", data), LiveGuests.disk("scratch", scratch)));
        qemu = LiveGuests.startAndAwaitReady(spec, runDir);
    }

    @AfterAll
    static void stopAndCheckNothingIsLeft() throws Exception {
        try {
            if (qemu != null && qemu.isAlive()) {
                qemu.kill();
            }
        } finally {
            LiveGuests.assertNothingLeft(dir);
        }
    }

    @Test
    @Order(1)
    void runsTheGuestWithTheRequestedAccelerator() throws Exception {
        JsonNode status = qemu.qmp().execute("query-status", null, T);
        assertThat(status.path("status").asText()).isEqualTo("running");
        boolean kvm = LiveGuests.accel() == VmSpec.Accel.KVM
                || LiveGuests.accel() == VmSpec.Accel.AUTO && QemuProcess.kvmUsable();
        assertThat(qemu.qmp().execute("query-kvm", null, T).path("enabled").asBoolean()).isEqualTo(kvm);
        assertThat(Files.readString(qemu.runFolder().pidFile()).strip()).isEqualTo(Long.toString(qemu.pid()));
        // the -blockdev graph has the stable node names the later commands use
        List<String> nodes = qemu.qmp().execute("query-named-block-nodes", null, T).findValuesAsText("node-name");
        assertThat(nodes).contains("data", "data-file", "scratch", "scratch-file");
        assertThat(LiveGuests.awaitCounters(qemu.runFolder().serialLog(), 0, 2)).allSatisfy(c -> assertThat(c.n()).isPositive());
    }

    @Test
    @Order(2)
    void anUnknownCommandKeepsQemusErrorClass() {
        assertThatThrownBy(() -> qemu.qmp().execute("vmsnap-no-such-command", null, T))
                .isInstanceOfSatisfying(QmpCommandException.class, e -> assertThat(e.errorClass()).isEqualTo("CommandNotFound"));
    }

    @Test
    @Order(3)
    void theGuestAgentAnswersPingAndInfo() throws Exception {
        try (GuestAgentClient agent = qemu.connectAgent(T)) {
            agent.ping();
            GuestAgentClient.AgentInfo info = agent.info();
            assertThat(info.version()).startsWith("7.2");
            assertThat(info.enabledCommands()).contains("guest-fsfreeze-freeze", "guest-fsfreeze-thaw", "guest-sync-delimited");
        }
    }

    @Test
    @Order(4)
    void freezeBlocksTheWriterUntilThaw() throws Exception {
        Path serial = qemu.runFolder().serialLog();
        try (GuestAgentClient agent = qemu.connectAgent(T)) {
            assertThat(agent.fsfreezeStatus()).isEqualTo("thawed");
            assertThat(agent.fsfreezeFreeze()).as("the data disk is the one freezable file system").isEqualTo(1);
            try {
                assertThat(agent.fsfreezeStatus()).isEqualTo("frozen");
                long before = LiveGuests.size(serial);
                Thread.sleep(2000);
                // the writer blocks on its next append: at most the counter it was printing gets out
                assertThat(TestGuest.counters(TestGuest.readFrom(serial, before))).hasSizeLessThanOrEqualTo(1);
            } finally {
                assertThat(agent.fsfreezeThaw()).isEqualTo(1);
            }
            assertThat(agent.fsfreezeStatus()).isEqualTo("thawed");
            LiveGuests.awaitCounters(serial, LiveGuests.size(serial), 2);
        }
    }

    @Test
    @Order(5)
    void aTransactionOfTwoExternalSnapshotsWhileFrozen() throws Exception {
        ObjectNode arguments = QmpClient.arguments();
        ArrayNode actions = arguments.putArray("actions");
        for (String node : List.of("data", "scratch")) {
            actions.addObject().put("type", "blockdev-snapshot-sync").putObject("data")
                    .put("node-name", node)
                    .put("snapshot-file", dir.resolve(node + "-s1.qcow2").toString())
                    .put("snapshot-node-name", node + "-s1")
                    .put("format", "qcow2");
        }
        GuestAgentClient.Frozen<JsonNode> frozen;
        try (GuestAgentClient agent = qemu.connectAgent(T)) {
            frozen = agent.whileFrozen(null, () -> qemu.qmp().execute("transaction", arguments, T));
            assertThat(agent.fsfreezeStatus()).isEqualTo("thawed");
        }
        assertThat(frozen.thawed()).isTrue();
        assertThat(frozen.frozenFilesystems()).isEqualTo(1);
        JsonNode block = qemu.qmp().execute("query-block", null, T);
        assertThat(block.findValuesAsText("node-name")).contains("data-s1", "scratch-s1");
        for (String node : List.of("data", "scratch")) {
            JsonNode info = infoWhileRunning(dir.resolve(node + "-s1.qcow2"));
            assertThat(info.path("backing-filename").asText()).isEqualTo(dir.resolve(node + ".qcow2").toString());
        }
        LiveGuests.awaitCounters(qemu.runFolder().serialLog(), LiveGuests.size(qemu.runFolder().serialLog()), 2);
    }

    @Test
    @Order(6)
    void aSnapshotSaveJobRunsToCompletionAndIsDismissed() throws Exception {
        ObjectNode arguments = QmpClient.arguments().put("job-id", "save-live1").put("tag", "live1").put("vmstate", "data-s1");
        arguments.putArray("devices").add("data-s1").add("scratch-s1");
        QemuJob.run(qemu.qmp(), "snapshot-save", arguments, Duration.ofMinutes(2));
        assertThat(qemu.qmp().execute("query-jobs", null, T)).isEmpty();
        assertThat(qemu.qmp().execute("query-status", null, T).path("status").asText()).isEqualTo("running");
        JsonNode snapshots = infoWhileRunning(dir.resolve("data-s1.qcow2")).path("snapshots");
        assertThat(snapshots.findValuesAsText("name")).containsExactly("live1");
        assertThat(snapshots.get(0).path("vm-state-size").asLong()).isPositive();
        JsonNode scratchSnapshots = infoWhileRunning(dir.resolve("scratch-s1.qcow2")).path("snapshots");
        assertThat(scratchSnapshots.findValuesAsText("name")).containsExactly("live1");
    }

    @Test
    @Order(7)
    void aFailingJobIsReportedWithQemusErrorAndDismissed() throws Exception {
        ObjectNode arguments = QmpClient.arguments().put("job-id", "save-bad").put("tag", "bad").put("vmstate", "data-s1");
        arguments.putArray("devices").add("data-s1").add("no-such-node");
        assertThatThrownBy(() -> QemuJob.run(qemu.qmp(), "snapshot-save", arguments, Duration.ofMinutes(1)))
                .isInstanceOfSatisfying(QmpJobException.class, e -> {
                    assertThat(e.jobId()).isEqualTo("save-bad");
                    assertThat(e.getMessage()).contains("no-such-node");
                });
        assertThat(qemu.qmp().execute("query-jobs", null, T)).isEmpty();
        assertThat(qemu.qmp().execute("query-status", null, T).path("status").asText()).isEqualTo("running");
    }

    @Test
    @Order(8)
    void aLaterProcessFindsTheRunningQemuThroughItsPidFile() throws Exception {
        long pid = qemu.pid();
        qemu.close(); // QMP serves one client at a time: let go, as a vmsnap process that ends would
        QemuProcess found = QemuProcess.attach(runDir, T);
        assertThat(found.pid()).isEqualTo(pid);
        assertThat(found.qmp().execute("query-status", null, T).path("status").asText()).isEqualTo("running");
        found.close();
        qemu = QemuProcess.attach(runDir, T); // the rest of the class goes on with a fresh connection
    }

    @Test
    @Order(9)
    void aGracefulStopPowersTheGuestOff_andTheDiskHoldsEveryRecord() throws Exception {
        Path serial = qemu.runFolder().serialLog();
        List<TestGuest.Counter> printed = TestGuest.counters(TestGuest.readFrom(serial, 0));
        assertThat(qemu.stop(Duration.ofSeconds(60))).isEqualTo(QemuProcess.Stopped.POWERED_OFF);
        assertThat(qemu.isAlive()).isFalse();
        assertThat(TestGuest.readFrom(serial, 0)).contains("vmsnap-guest: power button", "vmsnap-guest: data disk unmounted");
        QemuTools.run(List.of(QemuTools.qemuImg().toString(), "check", dir.resolve("data-s1.qcow2").toString())).requireSuccess();
        TestGuest.Records records = TestGuest.readRecords(dir.resolve("data-s1.qcow2"), "qcow2");
        assertThat(records.invalid()).isEmpty();
        assertThat(records.valid()).isNotEmpty();
        for (int i = 0; i < records.valid().size(); i++) {
            assertThat(records.valid().get(i).n()).as("record %d", i).isEqualTo(i + 1);
        }
        assertThat(records.last()).isGreaterThanOrEqualTo(printed.getLast().n());
    }

    /** qemu-img info of an image QEMU holds open: -U shares its lock (read-only peek). */
    private static JsonNode infoWhileRunning(Path image) throws Exception {
        String json = QemuTools.run(List.of(QemuTools.qemuImg().toString(), "info", "-U", "--output=json", "-f", "qcow2",
                image.toString())).requireSuccess().stdout();
        return new com.fasterxml.jackson.databind.ObjectMapper().readTree(json);
    }
}
