package org.vmsnap.manager.scenario;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.vmsnap.manager.scenario.ScenarioFixture.DISK_ONLY;
import static org.vmsnap.manager.scenario.ScenarioFixture.E;
import static org.vmsnap.manager.scenario.ScenarioFixture.I;
import static org.vmsnap.manager.scenario.ScenarioFixture.N;
import static org.vmsnap.manager.scenario.ScenarioFixture.NONE;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;

import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.vmsnap.manager.DeleteScope;
import org.vmsnap.manager.InvalidInputException;
import org.vmsnap.manager.scenario.ScenarioFixture.DiskSpec;
import org.vmsnap.manager.xml.SnapshotMode;
import org.vmsnap.testkit.QemuIoHolder;
import org.vmsnap.testkit.QemuTools;

/**
 * Domains of two and four disks, qcow2 and raw mixed; a failure on the last disk (raw asked for
 * an internal snapshot, image locked by a running qemu-io, folder not writable) leaves nothing of
 * the attempt: no overlay, no internal snapshot in the disks before it, metadata unchanged, and
 * the error names the disk.
 */
class MultiDiskTest {
    @TempDir
    Path tmp;

    /** 2 disks: qcow2, qcow2; 4 disks: qcow2, raw, qcow2, qcow2 (the last one qcow2, to be locked). */
    private ScenarioFixture disks(int n, boolean lastInOwnFolder) throws IOException {
        DiskSpec last = lastInOwnFolder ? DiskSpec.qcow2(4).inOwnFolder() : DiskSpec.qcow2(4);
        ScenarioFixture f = n == 2 ? ScenarioFixture.create(tmp, DiskSpec.qcow2(4), last)
                : ScenarioFixture.create(tmp, DiskSpec.qcow2(4), DiskSpec.raw(4), DiskSpec.qcow2(8), last);
        f.fill();
        return f;
    }

    /** Internal wherever the disk's image is qcow2, external for the raw one. */
    private static SnapshotMode[] internalWherePossible(ScenarioFixture f) throws IOException {
        SnapshotMode[] modes = new SnapshotMode[f.targets.size()];
        for (int i = 0; i < modes.length; i++) {
            modes[i] = f.domains.get(ScenarioFixture.DOMAIN).disk(f.targets.get(i)).orElseThrow().isQcow2() ? I : E;
        }
        return modes;
    }

    private static void assertFailsChangingNothing(ScenarioFixture f, AutoCloseable holder, ThrowingCallable op)
            throws Exception {
        String last = f.targets.getLast();
        Path lastFile = f.domains.get(ScenarioFixture.DOMAIN).disk(last).orElseThrow().source();
        ScenarioFixture.Footprint before = f.footprint();
        try {
            assertThatThrownBy(op).isInstanceOf(IOException.class)
                    .satisfies(e -> assertThat(e.getMessage()).as("error message").containsAnyOf("disk " + last,
                            lastFile.toString()));
            assertThat(f.footprint()).as("files, their bytes, internal snapshots and metadata after the failure")
                    .isEqualTo(before);
            // Nothing is left pending while the disk is still held: no journal, and the domain answers.
            assertThat(f.home.resolve(ScenarioFixture.DOMAIN).resolve("journal")).as("journal after the failure")
                    .doesNotExist();
            f.reopen();
            assertThat(f.service().tree().all()).hasSameSizeAs(f.model.snaps.values());
        } finally {
            if (holder != null) {
                holder.close();
            }
        }
        f.verify();
        // The domain is not stuck: the same operation works once the disk is free.
        f.fill();
        f.create("afterwards", NONE, internalWherePossible(f));
        f.verify();
    }

    @Test
    void fourDisksQcow2AndRawThroughATree() throws IOException {
        ScenarioFixture f = ScenarioFixture.create(tmp, DiskSpec.qcow2(4), DiskSpec.raw(4), DiskSpec.qcow2(8),
                DiskSpec.raw(4));
        f.fill();
        f.create("s1", NONE, I, E, I, N);
        f.fill();
        f.create("e1", DISK_ONLY);
        f.fill();
        f.create("m1", NONE, I, I, E, E); // the raw disks are qcow2 overlays now
        f.fill();
        f.verify();
        f.revert("s1");
        f.verify();
        f.fill();
        f.create("b1", NONE, E, N, I, E);
        f.fill();
        f.revert("e1");
        f.verify();
        f.delete("e1", DeleteScope.SNAPSHOT);
        f.verify();
        f.delete("s1", DeleteScope.SNAPSHOT);
        f.verify();
        f.verifyByReverting();
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 4})
    void rawLastDiskAskedForAnInternalSnapshot(int n) throws Exception {
        ScenarioFixture f = n == 2 ? ScenarioFixture.create(tmp, DiskSpec.qcow2(4), DiskSpec.raw(4))
                : ScenarioFixture.create(tmp, DiskSpec.qcow2(4), DiskSpec.qcow2(8), DiskSpec.qcow2(4), DiskSpec.raw(4));
        f.fill();
        SnapshotMode[] allInternal = new SnapshotMode[n];
        java.util.Arrays.fill(allInternal, I);
        assertThatThrownBy(() -> f.create("y", NONE, allInternal)).isInstanceOf(InvalidInputException.class)
                .hasMessageContaining("disk " + f.targets.getLast());
        assertFailsChangingNothing(f, null, () -> f.create("x", NONE));
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 4})
    void lastDiskLockedDuringAnInternalCreate(int n) throws Exception {
        ScenarioFixture f = disks(n, false);
        f.create("s0", NONE, internalWherePossible(f));
        f.fill();
        SnapshotMode[] modes = internalWherePossible(f);
        Path last = f.domains.get(ScenarioFixture.DOMAIN).disk(f.targets.getLast()).orElseThrow().source();
        assertFailsChangingNothing(f, new QemuIoHolder(last, "qcow2"), () -> f.create("x", NONE, modes));
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 4})
    void lastDiskLockedDuringAnExternalCreate(int n) throws Exception {
        ScenarioFixture f = disks(n, false);
        Path last = f.domains.get(ScenarioFixture.DOMAIN).disk(f.targets.getLast()).orElseThrow().source();
        assertFailsChangingNothing(f, new QemuIoHolder(last, "qcow2"), () -> f.create("x", DISK_ONLY));
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 4})
    void lastDiskLockedDuringARevert(int n) throws Exception {
        ScenarioFixture f = disks(n, false);
        f.create("s1", NONE, internalWherePossible(f));
        f.fill();
        f.create("s2", DISK_ONLY);
        f.fill();
        f.create("s3", NONE, internalWherePossible(f));
        f.fill();
        Path last = f.domains.get(ScenarioFixture.DOMAIN).disk(f.targets.getLast()).orElseThrow().source();
        assertFailsChangingNothing(f, new QemuIoHolder(last, "qcow2"), () -> f.revert("s3"));
        f.revert("s1");
        f.verify();
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 4})
    void lastDiskLockedDuringADelete(int n) throws Exception {
        ScenarioFixture f = disks(n, false);
        f.create("s1", NONE, internalWherePossible(f));
        f.fill();
        f.create("s2", NONE, internalWherePossible(f));
        f.fill();
        Path last = f.domains.get(ScenarioFixture.DOMAIN).disk(f.targets.getLast()).orElseThrow().source();
        assertFailsChangingNothing(f, new QemuIoHolder(last, "qcow2"), () -> f.delete("s1", DeleteScope.SNAPSHOT));
        f.delete("s1", DeleteScope.SNAPSHOT);
        f.verify();
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 4})
    void lastDiskLockedDuringAnExternalMerge(int n) throws Exception {
        ScenarioFixture f = disks(n, false);
        f.create("e1", DISK_ONLY);
        f.fill();
        f.create("e2", DISK_ONLY);
        f.fill();
        Path last = f.domains.get(ScenarioFixture.DOMAIN).disk(f.targets.getLast()).orElseThrow().source();
        assertFailsChangingNothing(f, new QemuIoHolder(last, "qcow2"), () -> f.delete("e2", DeleteScope.SNAPSHOT));
        f.delete("e2", DeleteScope.SNAPSHOT);
        f.verify();
        f.verifyByReverting();
    }

    /** The last disk's folder takes no new file (as root, mode 0555 is not enough: the folder is made immutable). */
    @ParameterizedTest
    @ValueSource(ints = {2, 4})
    void lastDisksFolderNotWritableDuringAnExternalCreate(int n) throws Exception {
        ScenarioFixture f = disks(n, true);
        Path folder = f.userFiles.get(f.targets.getLast()).getParent();
        Files.setPosixFilePermissions(folder, PosixFilePermissions.fromString("r-xr-xr-x"));
        boolean immutable = false;
        try {
            if (canCreateIn(folder)) {
                chattr("+i", folder);
                immutable = true;
                assertThat(canCreateIn(folder)).as("%s is immutable", folder).isFalse();
            }
            Path lastFolder = folder;
            boolean unlock = immutable;
            assertFailsChangingNothing(f, () -> {
                if (unlock) {
                    chattr("-i", lastFolder);
                }
                Files.setPosixFilePermissions(lastFolder, PosixFilePermissions.fromString("rwxr-xr-x"));
            }, () -> f.create("x", DISK_ONLY));
            immutable = false;
        } finally {
            if (immutable) {
                chattr("-i", folder);
            }
            Files.setPosixFilePermissions(folder, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
    }

    private static boolean canCreateIn(Path folder) {
        try {
            Files.delete(Files.createTempFile(folder, "probe", ""));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static void chattr(String flag, Path p) {
        QemuTools.run(List.of("chattr", flag, p.toString())).requireSuccess();
    }
}
