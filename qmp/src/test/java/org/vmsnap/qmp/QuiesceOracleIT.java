package org.vmsnap.qmp;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
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
import org.vmsnap.testkit.QemuTools;
import org.vmsnap.testkit.TestGuest;

/**
 * The test guest with two ext4 data disks under QEMU, and the oracles of {@link TestGuest} on
 * snapshots of it, both ways: the real guest agent freezes both file systems and the writer
 * stalls until thaw; a snapshot taken frozen is clean (e2fsck -fn, no needs_recovery) with
 * contiguous records; one taken while the guest writes needs recovery; an atomic snapshot of
 * both disks is in lockstep, two snapshots taken seconds apart are not.
 *
 * <p>Snapshots are internal ({@code blockdev-snapshot-internal-sync}, in one
 * {@code transaction} when both disks must be from one instant), read back while QEMU runs
 * with {@code qemu-img convert -U -l snapshot.name=...}.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class QuiesceOracleIT {

    private static final Duration T = LiveGuests.QMP;

    @TempDir
    static Path dir;

    private static Path vda;
    private static Path vdb;
    private static QemuProcess qemu;

    @BeforeAll
    static void boot() throws Exception {
        vda = dir.resolve("vda.qcow2");
        vdb = dir.resolve("vdb.qcow2");
        TestGuest.createDataDisk(vda, 32);
        TestGuest.createDataDisk(vdb, 32);
        VmSpec spec = LiveGuests.spec("quiesce", 256, "", List.of(LiveGuests.disk("vda", vda), LiveGuests.disk("vdb", vdb)));
        qemu = LiveGuests.startAndAwaitReady(spec, dir.resolve("run"));
        assertThat(TestGuest.readFrom(serial(), 0)).contains(TestGuest.SECOND_DISK_LINE);
        LiveGuests.awaitCounters(serial(), 0, 3);
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
    void theAgentFreezesBothFileSystems_andTheWriterStallsUntilThaw() throws Exception {
        try (GuestAgentClient agent = qemu.connectAgent(T)) {
            assertThat(agent.fsfreezeFreeze()).as("/data and /data2").isEqualTo(2);
            try {
                assertThat(agent.fsfreezeStatus()).isEqualTo("frozen");
                long before = LiveGuests.size(serial());
                Thread.sleep(2000);
                // the writer blocks on its next append: at most the counter it was printing gets out
                assertThat(TestGuest.counters(TestGuest.readFrom(serial(), before))).hasSizeLessThanOrEqualTo(1);
            } finally {
                assertThat(agent.fsfreezeThaw()).isEqualTo(2);
            }
            assertThat(agent.fsfreezeStatus()).isEqualTo("thawed");
        }
        LiveGuests.awaitCounters(serial(), LiveGuests.size(serial()), 3);
    }

    @Test
    @Order(2)
    void aSnapshotTakenFrozenIsClean_withContiguousRecordsInLockstep() throws Exception {
        GuestAgentClient.Frozen<Void> frozen;
        try (GuestAgentClient agent = qemu.connectAgent(T)) {
            frozen = agent.whileFrozen(null, () -> {
                snapshotBoth("frozen");
                return null;
            });
        }
        assertThat(frozen.frozenFilesystems()).isEqualTo(2);
        assertThat(frozen.thawed()).isTrue();
        Path a = extract(vda, "frozen");
        Path b = extract(vdb, "frozen");
        for (Path image : List.of(a, b)) {
            TestGuest.Fsck fsck = TestGuest.fsck(image, "raw");
            assertThat(fsck.clean()).as(image + "\n" + fsck.output()).isTrue();
            assertThat(TestGuest.needsRecovery(image, "raw")).as(image.toString()).isFalse();
        }
        TestGuest.DiskPair pair = TestGuest.readDiskPair(a, b, "raw");
        assertThat(pair.first().isContiguous()).as(pair.first().toString()).isTrue();
        assertThat(pair.second().isContiguous()).as(pair.second().toString()).isTrue();
        assertThat(pair.first().last()).isGreaterThanOrEqualTo(3);
        assertThat(pair.inLockstep()).as("%d and %d records", pair.first().last(), pair.second().last()).isTrue();
    }

    @Test
    @Order(3)
    void aSnapshotTakenWhileTheGuestWritesNeedsRecovery_yetAnAtomicOneIsInLockstep() throws Exception {
        LiveGuests.awaitCounters(serial(), LiveGuests.size(serial()), 2);
        long printed = TestGuest.counters(TestGuest.readFrom(serial(), 0)).getLast().n();
        snapshotBoth("running");
        Path a = extract(vda, "running");
        Path b = extract(vdb, "running");
        assertThat(TestGuest.needsRecovery(a, "raw")).isTrue();
        assertThat(TestGuest.needsRecovery(b, "raw")).isTrue();
        TestGuest.DiskPair pair = TestGuest.readDiskPair(a, b, "raw");
        // COUNTER n is printed once record n is on both disks; the replayed journal shows it
        assertThat(pair.second().last()).isGreaterThanOrEqualTo(printed);
        assertThat(pair.inLockstep()).as("%d and %d records", pair.first().last(), pair.second().last()).isTrue();
    }

    @Test
    @Order(4)
    void snapshotsOfTheTwoDisksTakenSecondsApartAreNotInLockstep() throws Exception {
        snapshot("vda", "apart");
        LiveGuests.awaitCounters(serial(), LiveGuests.size(serial()), 5);
        snapshot("vdb", "apart");
        TestGuest.DiskPair pair = TestGuest.readDiskPair(extract(vda, "apart"), extract(vdb, "apart"), "raw");
        assertThat(pair.second().last() - pair.first().last()).isGreaterThanOrEqualTo(4);
        assertThat(pair.inLockstep()).isFalse();
    }

    private static Path serial() {
        return qemu.runFolder().serialLog();
    }

    /** One transaction: both disks' internal snapshots are of the same instant. */
    private static void snapshotBoth(String name) throws Exception {
        ObjectNode arguments = QmpClient.arguments();
        ArrayNode actions = arguments.putArray("actions");
        for (String node : List.of("vda", "vdb")) {
            actions.addObject().put("type", "blockdev-snapshot-internal-sync").putObject("data")
                    .put("device", node).put("name", name);
        }
        qemu.qmp().execute("transaction", arguments, T);
    }

    private static void snapshot(String node, String name) throws Exception {
        qemu.qmp().execute("blockdev-snapshot-internal-sync", QmpClient.arguments().put("device", node).put("name", name), T);
    }

    /** The internal snapshot {@code name} of {@code image} as a raw file, read while QEMU holds the image. */
    private static Path extract(Path image, String name) {
        Path raw = dir.resolve(image.getFileName() + "." + name + ".raw");
        QemuTools.run(List.of(QemuTools.qemuImg().toString(), "convert", "-U", "-f", "qcow2", "-l", "snapshot.name=" + name,
                "-O", "raw", image.toString(), raw.toString())).requireSuccess();
        return raw;
    }
}
