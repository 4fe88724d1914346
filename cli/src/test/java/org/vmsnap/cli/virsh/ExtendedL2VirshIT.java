package org.vmsnap.cli.virsh;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.cli.Cli;
import org.vmsnap.cli.QemuImg;

/**
 * A domain whose disk has extended L2 entries (made by qemu-img): the manager's snapshot
 * operations never write into it. An internal snapshot is refused in one line naming the
 * file and the feature, the disk stays byte for byte as it was and the domain stays usable
 * (the failed create has nothing to undo); an external snapshot reads through it; merging
 * an overlay back into it is refused before anything changes.
 */
class ExtendedL2VirshIT {

    private static final String REFUSAL = "extended L2 entries (subclusters) are supported read-only";

    @TempDir
    Path dir;

    private Path disk;
    private byte[] before;

    @BeforeEach
    void domain() throws IOException {
        disk = dir.resolve("sys.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", "-o", "extended_l2=on", disk.toString(), "1M");
        QemuImg.io(disk, "qcow2", "write -P 0x01 0 4k", "write -z 64k 2k");
        before = Files.readAllBytes(disk);
        Cli.defineVm(dir, disk);
    }

    @AfterEach
    void noHome() {
        System.clearProperty("vmsnap.home");
    }

    private static Cli.Run ok(String... args) {
        Cli.Run r = Cli.run(args);
        assertThat(r.exitCode()).as("%s: %s", String.join(" ", args), r.err()).isZero();
        return r;
    }

    private void diskUnchanged(String what) throws IOException {
        assertThat(Files.readAllBytes(disk)).as("%s: the disk is unchanged", what).isEqualTo(before);
    }

    @Test
    void internalSnapshotsAreRefusedAndLeaveNothingBehind() throws IOException {
        Cli.Run create = Cli.run("snapshot-create-as", "vm", "s1");
        assertThat(create.exitCode()).isEqualTo(1);
        // refused by the check of every image before the first step
        assertThat(create.err()).isEqualTo("vmsnap: disk vda: " + disk + ": cannot be opened for writing: " + REFUSAL
                + " (nothing was changed)\n");
        diskUnchanged("snapshot-create-as");
        // Nothing left to undo: the next commands run normally.
        assertThat(ok("snapshot-list", "vm", "--name").out()).isEqualTo("\n");
        assertThat(ok("domblklist", "vm").out()).contains(" vda      " + disk + "\n");
        assertThat(QemuImg.run("snapshot", "-l", disk.toString()).out()).isEmpty();
    }

    @Test
    void externalSnapshotsReadThroughItAndDoNotMergeIntoIt() throws IOException {
        assertThat(ok("snapshot-create-as", "vm", "e1", "--disk-only").out()).isEqualTo("Domain snapshot e1 created\n");
        Path overlay = dir.resolve("sys.e1");
        assertThat(QemuImg.ok("compare", disk.toString(), overlay.toString())).isEqualTo("Images are identical.\n");
        diskUnchanged("snapshot-create-as --disk-only");
        // Deleting e1 would commit the overlay into the extended L2 disk: refused, nothing changed.
        Cli.Run delete = Cli.run("snapshot-delete", "vm", "e1");
        assertThat(delete.exitCode()).isEqualTo(1);
        assertThat(delete.err()).contains(disk + ": cannot be opened for writing: " + REFUSAL)
                .contains("(nothing was changed)");
        diskUnchanged("snapshot-delete");
        assertThat(ok("snapshot-list", "vm", "--name").out()).isEqualTo("e1\n\n");
        // Internal snapshots of the overlay, which vmsnap made, work.
        ok("snapshot-create-as", "vm", "s2");
        assertThat(QemuImg.ok("snapshot", "-l", overlay.toString())).contains(" s2 ");
        diskUnchanged("snapshot-create-as on the overlay");
    }
}
