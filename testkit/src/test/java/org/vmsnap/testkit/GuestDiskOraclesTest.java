package org.vmsnap.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The snapshot oracles of {@link TestGuest} on ext4 images made and changed on the host
 * (mkfs.ext4, debugfs): records with checksums, contiguity and lockstep, e2fsck, needs_recovery.
 */
class GuestDiskOraclesTest {

    @TempDir
    Path dir;

    @Test
    void aFreshDataDiskIsCleanWithoutRecordsAndNeedsNoRecovery() {
        Path disk = dir.resolve("data.qcow2");
        TestGuest.createDataDisk(disk, 16);
        TestGuest.Fsck fsck = TestGuest.fsck(disk, "qcow2");
        assertThat(fsck.clean()).as(fsck.output()).isTrue();
        assertThat(TestGuest.needsRecovery(disk, "qcow2")).isFalse();
        TestGuest.Records records = TestGuest.readRecords(disk, "qcow2");
        assertThat(records.valid()).isEmpty();
        assertThat(records.isContiguous()).isTrue();
    }

    @Test
    void needsRecoveryIsTheSuperblockFeature_andTheOraclesLeaveTheImageAlone() {
        Path raw = rawDisk("a.raw");
        debugfsWrite(raw, "feature needs_recovery");
        assertThat(TestGuest.needsRecovery(raw, "raw")).isTrue();
        Path qcow2 = dir.resolve("a.qcow2");
        QemuTools.run(List.of(QemuTools.qemuImg().toString(), "convert", "-f", "raw", "-O", "qcow2", raw.toString(),
                qcow2.toString())).requireSuccess();
        assertThat(TestGuest.needsRecovery(qcow2, "qcow2")).isTrue();
        // readRecords replays the journal, which clears the feature: on its own copy only
        TestGuest.readRecords(qcow2, "qcow2");
        TestGuest.readRecords(raw, "raw");
        assertThat(TestGuest.needsRecovery(qcow2, "qcow2")).isTrue();
        assertThat(TestGuest.needsRecovery(raw, "raw")).isTrue();
    }

    @Test
    void fsckReportsADamagedFileSystem() {
        Path raw = rawDisk("b.raw");
        assertThat(TestGuest.fsck(raw, "raw").clean()).isTrue();
        debugfsWrite(raw, "clri <11>"); // wipes lost+found's inode; its directory entry stays
        TestGuest.Fsck fsck = TestGuest.fsck(raw, "raw");
        assertThat(fsck.clean()).isFalse();
        assertThat(fsck.exitCode()).isEqualTo(4); // errors left uncorrected (-n)
        assertThat(fsck.output()).contains("Entry 'lost+found' in / (2) has deleted/unused inode 11");
    }

    @Test
    void recordsAreReadWithTheirChecksums() throws Exception {
        Path raw = rawDisk("c.raw");
        String good = records(1, 3, "0a1b2c3d");
        String torn = "REC 4 0a1b2c3d " + TestGuest.md5Prefix("REC 4 0a1b2c3d").substring(0, 5);
        String forged = "REC 5 0a1b2c3d 00000000";
        putRecords(raw, good + torn + "\n" + forged + "\n");
        TestGuest.Records records = TestGuest.readRecords(raw, "raw");
        assertThat(records.valid()).extracting(TestGuest.Record::n).containsExactly(1L, 2L, 3L);
        assertThat(records.valid()).allSatisfy(r -> assertThat(r.boot()).isEqualTo("0a1b2c3d"));
        assertThat(records.invalid()).containsExactly(torn, forged);
        assertThat(records.last()).isEqualTo(3);
        assertThat(records.isContiguous()).as("torn and forged lines break contiguity").isFalse();
    }

    @Test
    void theSecondDiskReadsTheSameWay_andAPairIsInLockstepOnlyWithinOneRecord() throws Exception {
        Path first = rawDisk("first.raw");
        Path second = rawDisk("second.raw");
        putRecords(first, records(1, 7, "cafe0001"));
        putRecords(second, records(1, 6, "cafe0001"));
        TestGuest.DiskPair pair = TestGuest.readDiskPair(first, second, "raw");
        assertThat(pair.first().last()).isEqualTo(7);
        assertThat(pair.second().last()).isEqualTo(6);
        assertThat(pair.first().isContiguous()).isTrue();
        assertThat(pair.inLockstep()).isTrue();

        putRecords(second, records(1, 4, "cafe0001"));
        assertThat(TestGuest.readDiskPair(first, second, "raw").inLockstep()).as("three records apart").isFalse();
    }

    @Test
    void lockstepNeedsTheSameRecordsInTheSameOrder() {
        TestGuest.Records a = parsed(1, 5, "b00b0001");
        assertThat(new TestGuest.DiskPair(a, parsed(1, 5, "b00b0001")).inLockstep()).isTrue();
        assertThat(new TestGuest.DiskPair(a, parsed(1, 4, "b00b0001")).inLockstep()).isTrue();
        assertThat(new TestGuest.DiskPair(a, parsed(1, 6, "b00b0001")).inLockstep()).as("vdb ahead").isFalse();
        assertThat(new TestGuest.DiskPair(a, parsed(1, 3, "b00b0001")).inLockstep()).as("two behind").isFalse();
        assertThat(new TestGuest.DiskPair(a, parsed(1, 5, "b00b0002")).inLockstep()).as("another boot").isFalse();
        assertThat(new TestGuest.DiskPair(parsed(1, 0, "b00b0001"), parsed(1, 0, "b00b0001")).inLockstep())
                .as("both empty").isTrue();
    }

    @Test
    void contiguityMeansOneToLastWithoutGapsOrRepeats() {
        assertThat(parsed(1, 4, "00000001").isContiguous()).isTrue();
        assertThat(parsed(2, 4, "00000001").isContiguous()).as("record 1 missing").isFalse();
        TestGuest.Records gap = new TestGuest.Records(List.of(new TestGuest.Record(1, "b"), new TestGuest.Record(3, "b")),
                List.of());
        assertThat(gap.isContiguous()).isFalse();
        TestGuest.Records repeat = new TestGuest.Records(
                List.of(new TestGuest.Record(1, "b"), new TestGuest.Record(1, "b")), List.of());
        assertThat(repeat.isContiguous()).isFalse();
    }

    private static TestGuest.Records parsed(long from, long to, String boot) {
        return new TestGuest.Records(LongStream.rangeClosed(from, to).mapToObj(n -> new TestGuest.Record(n, boot)).toList(),
                List.of());
    }

    /** Record lines from..to as the guest's writer makes them. */
    private static String records(long from, long to, String boot) {
        return LongStream.rangeClosed(from, to).mapToObj(n -> {
            String body = "REC " + n + " " + boot;
            return body + " " + TestGuest.md5Prefix(body) + "\n";
        }).collect(Collectors.joining());
    }

    private Path rawDisk(String name) {
        Path raw = dir.resolve(name);
        QemuTools.run(List.of(QemuTools.find("truncate", "coreutils").toString(), "-s", "16M", raw.toString())).requireSuccess();
        QemuTools.run(List.of(QemuTools.find("mkfs.ext4", "e2fsprogs").toString(), "-q", "-F", raw.toString())).requireSuccess();
        return raw;
    }

    /** Replaces /records in the raw ext4 image with {@code text}. */
    private void putRecords(Path raw, String text) throws Exception {
        Path local = Files.createTempFile(dir, "records", ".txt");
        Files.writeString(local, text);
        debugfsWrite(raw, "rm /records");
        debugfsWrite(raw, "write " + local + " records");
    }

    private static void debugfsWrite(Path raw, String request) {
        QemuTools.run(List.of(QemuTools.find("debugfs", "e2fsprogs").toString(), "-w", "-R", request, raw.toString()))
                .requireSuccess();
    }
}
