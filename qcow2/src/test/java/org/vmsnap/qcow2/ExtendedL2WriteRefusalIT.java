package org.vmsnap.qcow2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.qcow2.io.FileBlockStore;
import org.vmsnap.testkit.QemuImg;
import org.vmsnap.testkit.QemuIo;

/**
 * vmsnap reads images with extended L2 entries but never writes them: every way into one
 * for writing is refused with one line naming the file and the feature, before anything is
 * written (every file of the test is byte for byte what it was), and qemu-img still finds
 * the image clean afterwards.
 */
class ExtendedL2WriteRefusalIT {

    private static final String REFUSAL = "extended L2 entries (subclusters) are supported read-only";
    private static final long SIZE = 4L << 20;

    @TempDir
    Path dir;

    /** An extended L2 image with data, zeros and an internal snapshot. */
    private Path ext;
    /** A raw file and a standard qcow2 overlay on top of {@link #ext}. */
    private Path raw;
    private Path overlay;
    private Map<Path, byte[]> before;

    @BeforeEach
    void fixtures() throws IOException {
        raw = dir.resolve("base.raw");
        QemuImg.create(raw, "raw", SIZE);
        QemuIo.writePattern(raw, "raw", 0, 1 << 20, 0x11);
        ext = dir.resolve("ext.qcow2");
        QemuImg.create(ext, "qcow2", SIZE, "extended_l2=on", "cluster_size=32k", "backing_file=base.raw",
                "backing_fmt=raw");
        QemuIo.run(ext, "qcow2", "write -P 0xaa 1k 3k", "write -z 8k 2k", "write -P 0xbb 64k 40k");
        QemuImg.snapshotCreate(ext, "s1");
        QemuIo.run(ext, "qcow2", "write -P 0xcc 2k 1k");
        overlay = dir.resolve("overlay.qcow2");
        QemuImg.createOverlay(overlay, ext, "qcow2");
        QemuIo.run(overlay, "qcow2", "write -P 0xdd 0 64k");
        before = snapshotFiles();
    }

    private Map<Path, byte[]> snapshotFiles() throws IOException {
        Map<Path, byte[]> m = new LinkedHashMap<>();
        for (Path p : List.of(raw, ext, overlay)) {
            m.put(p, Files.readAllBytes(p));
        }
        return m;
    }

    private interface Write {
        void run() throws IOException;
    }

    /** The write is refused naming {@code file} and the feature, and no file changed. */
    private void refused(String what, Path file, Write write) throws IOException {
        assertThatThrownBy(write::run).as(what).isInstanceOf(ImageException.class)
                .hasMessageEndingWith(file + ": " + REFUSAL);
        Map<Path, byte[]> after = snapshotFiles();
        for (Path p : before.keySet()) {
            assertThat(after.get(p)).as("%s: %s unchanged", what, p.getFileName()).isEqualTo(before.get(p));
        }
        assertThat(QemuImg.check(ext).exitCode()).as("%s: qemu-img check", what).isZero();
    }

    @Test
    void opensForWritingAreRefused() throws IOException {
        refused("open read-write", ext, () -> Qcow2Image.open(ext, OpenOptions.readWrite()).close());
        refused("open read-write without backing", ext,
                () -> Qcow2Image.open(ext, OpenOptions.readWrite().withOpenBacking(false)).close());
        // convert -n into it, resize: both open the target read-write by format.
        refused("Images.open read-write", ext,
                () -> Images.open(ext, OpenOptions.readWrite().withFormat("qcow2")).close());
        refused("openStore read-write", ext,
                () -> Qcow2Image.openStore(FileBlockStore.open(ext, false, false), false, null).close());
        // Read-only opens work, and read what QEMU wrote.
        try (Qcow2Image img = Qcow2Image.open(ext, OpenOptions.readOnlyOpen())) {
            ByteBuffer b = ByteBuffer.allocate(4096);
            img.read(0, b);
            assertThat(b.get(0)).isEqualTo((byte) 0x11);
            assertThat(b.get(1024)).isEqualTo((byte) 0xaa);
            assertThat(b.get(2048)).isEqualTo((byte) 0xcc);
        }
    }

    @Test
    void repairsAreRefused() throws IOException {
        refused("check -r leaks", ext, () -> Qcow2Image.check(ext, RepairMode.LEAKS));
        refused("check -r all", ext, () -> Qcow2Image.check(ext, RepairMode.ALL));
        assertThat(Qcow2Image.check(ext, RepairMode.NONE).exitCode()).isZero();
    }

    /** A dirty image is repaired before a write open: not this one, which stays dirty. */
    @Test
    void aDirtyImageIsNotRepairedForWriting() throws IOException {
        try (FileChannel ch = FileChannel.open(ext, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(8);
            ch.read(b, 72);
            ch.write(ByteBuffer.allocate(8).putLong(0, b.getLong(0) | 1), 72);
        }
        before = snapshotFiles();
        assertThatThrownBy(() -> Qcow2Image.open(ext, OpenOptions.readWrite()).close())
                .hasMessage(ext + ": " + REFUSAL);
        assertThat(Files.readAllBytes(ext)).isEqualTo(before.get(ext));
        try (Qcow2Image img = Qcow2Image.open(ext, OpenOptions.readOnlyOpen())) {
            assertThat(img.info().dirtyFlag()).isTrue();
        }
    }

    @Test
    void snapshotOperationsAreRefused() throws IOException {
        // The snapshot verbs and the manager open the image read-write first.
        refused("snapshot -c", ext, () -> {
            try (Qcow2Image img = Qcow2Image.open(ext, OpenOptions.readWrite())) {
                img.createSnapshot("s2");
            }
        });
        try (Qcow2Image img = Qcow2Image.open(ext, OpenOptions.readOnlyOpen())) {
            assertThat(img.snapshots()).extracting(SnapshotInfo::name).containsExactly("s1");
            assertThatThrownBy(() -> img.createSnapshot("s2")).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("read-only");
        }
    }

    @Test
    void commitIntoOrFromItIsRefused() throws IOException {
        refused("commit into it", ext, () -> ImageCommit.commit(overlay, "qcow2", null, false, Progress.NONE));
        refused("commit from it", ext, () -> ImageCommit.commit(ext, "qcow2", null, true, Progress.NONE));
    }

    @Test
    void rebaseIsRefused() throws IOException {
        refused("rebase -u", ext, () -> ImageRebase.rebase(ext, "qcow2", null, null, true, Progress.NONE));
        refused("rebase", ext, () -> ImageRebase.rebase(ext, "qcow2", null, null, false, Progress.NONE));
        // Rebasing a standard overlay that reads through it works: only the overlay is written.
        Path expected = dir.resolve("expected.raw");
        QemuImg.convert(overlay, "qcow2", expected, "raw");
        ImageRebase.rebase(overlay, "qcow2", "base.raw", "raw", false, Progress.NONE);
        assertThat(Files.readAllBytes(ext)).isEqualTo(before.get(ext));
        QemuImg.assertSameContent(overlay, "qcow2", expected, "raw");
    }
}
