package org.vmsnap.manager.scenario;

import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.vmsnap.manager.scenario.ScenarioFixture.DISK_ONLY;
import static org.vmsnap.manager.scenario.ScenarioFixture.NONE;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.qcow2.BlockDevice;
import org.vmsnap.qcow2.Images;
import org.vmsnap.qcow2.OpenOptions;
import org.vmsnap.testkit.QemuImg;

/** The scenario verifier notices what it is meant to notice (else the scenario tests would prove nothing). */
class VerifierTest {
    @TempDir
    Path tmp;
    ScenarioFixture f;

    /** s1 internal, e1 external; the disks changed since. */
    @BeforeEach
    void tree() throws IOException {
        f = ScenarioFixture.twoQcow2(tmp);
        f.fill();
        f.create("s1", NONE);
        f.fill();
        f.create("e1", DISK_ONLY);
        f.fill();
        f.verify();
    }

    private void poke(Path file, long offset) throws IOException {
        try (BlockDevice d = Images.open(file, OpenOptions.readWrite().withFormat("qcow2"))) {
            d.write(offset, ByteBuffer.wrap(new byte[] {42}));
        }
    }

    @Test
    void aChangedByteInAFrozenImage() throws IOException {
        poke(f.userFiles.get("vdb"), 3L * ScenarioFixture.CLUSTER + 5000);
        assertThatThrownBy(f::verify).hasMessageContaining("disk vdb of snapshot e1 (external)")
                .hasMessageContaining("offset 0x31388");
    }

    @Test
    void aChangedByteInTheCurrentImage() throws IOException {
        poke(f.domains.get(ScenarioFixture.DOMAIN).disk("vda").orElseThrow().source(), 7);
        assertThatThrownBy(f::verify).hasMessageContaining("current state of disk vda");
    }

    @Test
    void anInternalSnapshotThatReadsDifferently() throws IOException {
        QemuImg.snapshotDelete(f.userFiles.get("vda"), "s1");
        QemuImg.snapshotCreate(f.userFiles.get("vda"), "s1");
        assertThatThrownBy(f::verify).hasMessageContaining("disk vda of snapshot s1 (internal)");
    }

    @Test
    void aStrayInternalSnapshot() {
        QemuImg.snapshotCreate(f.userFiles.get("vdb"), "stray");
        assertThatThrownBy(f::verify).hasMessageContaining("stray");
    }

    @Test
    void anOrphanImage() {
        QemuImg.create(f.userFiles.get("vda").resolveSibling("disk0.lost"), "qcow2", 1 << 20);
        assertThatThrownBy(f::verify).hasMessageContaining("orphan image").hasMessageContaining("disk0.lost");
    }

    @Test
    void aMissingBackingFile() throws IOException {
        Path top = f.domains.get(ScenarioFixture.DOMAIN).disk("vda").orElseThrow().source();
        QemuImg.rebaseUnsafe(top, top.resolveSibling("gone.qcow2").toString(), "qcow2");
        assertThatThrownBy(f::verify).hasMessageContaining("gone.qcow2");
    }

    @Test
    void aWrongCurrentSnapshotOrTree() throws IOException {
        f.service().setCurrent("s1");
        assertThatThrownBy(f::verify).hasMessageContaining("current snapshot");
    }

    @Test
    void anUnfinishedJournal() throws IOException {
        Files.writeString(tmp.resolve("home").resolve(ScenarioFixture.DOMAIN).resolve("journal"), "x");
        assertThatThrownBy(f::verify).hasMessageContaining("journal");
    }

    @Test
    void aStaleMirror() throws IOException {
        Path mirror = f.userFiles.get("vda").resolveSibling("." + ScenarioFixture.DOMAIN + ".vmsnap");
        try (var files = Files.list(mirror)) {
            Path s1 = files.filter(p -> p.getFileName().toString().equals("s1.xml")).findFirst().orElseThrow();
            Files.writeString(s1, Files.readString(s1).replace("scenario s1", "changed"));
        }
        assertThatThrownBy(f::verify).hasMessageContaining("s1.xml in the metadata mirror");
    }

    @Test
    void aWrongRefcount() throws IOException {
        // The header cluster's refcount (first entry of the first refcount block) set to 2: qemu-img check objects.
        Path top = f.domains.get(ScenarioFixture.DOMAIN).disk("vdb").orElseThrow().source();
        try (var ch = java.nio.channels.FileChannel.open(top, java.nio.file.StandardOpenOption.READ,
                java.nio.file.StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(8);
            ch.read(b, 48);
            long table = b.getLong(0);
            b.clear();
            ch.read(b, table);
            long block = b.getLong(0);
            ch.write(ByteBuffer.wrap(new byte[] {0, 2}), block);
        }
        assertThatThrownBy(f::verify).hasMessageContaining("qemu-img check " + top);
    }
}
