package org.vmsnap.qcow2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.testkit.QemuImg;
import org.vmsnap.testkit.QemuIoHolder;

/**
 * The engine's paths that remove a file: {@link ImageFiles#deleteUnlessInUse} (every removal
 * of an image vmsnap made) and the clean-up of a create that failed. A file is removed only
 * while vmsnap holds QEMU's write lock on it, and only a file the call itself created is
 * cleaned up; a real qemu-io holding the file is the other process.
 */
class FileRemovalIT {
    @TempDir
    Path dir;

    private Path qcow2(String name) throws IOException {
        Path p = dir.resolve(name);
        QemuImg.create(p, "qcow2", 1 << 20);
        return p;
    }

    @Test
    void removesAnImageNoProcessHolds() throws IOException {
        Path p = qcow2("free.qcow2");
        assertThat(ImageFiles.deleteUnlessInUse(p)).isTrue();
        assertThat(p).doesNotExist();
        assertThat(ImageFiles.deleteUnlessInUse(p)).as("absent: nothing to do").isFalse();
    }

    @Test
    void keepsAnImageQemuHoldsForWriting() throws Exception {
        Path p = qcow2("held.qcow2");
        byte[] bytes = Files.readAllBytes(p);
        try (QemuIoHolder holder = new QemuIoHolder(p, "qcow2")) {
            assertThat(ImageFiles.inUse(p)).isTrue();
            assertThatThrownBy(() -> ImageFiles.deleteUnlessInUse(p)).isInstanceOf(ImageInUseException.class)
                    .hasMessageStartingWith(p + ": ");
            assertThat(Files.readAllBytes(p)).isEqualTo(bytes);
        }
        assertThat(ImageFiles.inUse(p)).isFalse();
        assertThat(ImageFiles.deleteUnlessInUse(p)).isTrue();
    }

    @Test
    void keepsAnImageQemuHoldsReadOnly() throws Exception {
        Path p = qcow2("reader.qcow2");
        try (QemuIoHolder holder = new QemuIoHolder(p, "qcow2", true)) {
            assertThatThrownBy(() -> ImageFiles.deleteUnlessInUse(p)).isInstanceOf(ImageInUseException.class);
            assertThat(p).exists();
        }
    }

    @Test
    void keepsARawFileQemuHolds() throws Exception {
        Path p = dir.resolve("disk.raw");
        QemuImg.create(p, "raw", 1 << 20);
        try (QemuIoHolder holder = new QemuIoHolder(p, "raw")) {
            assertThatThrownBy(() -> ImageFiles.deleteUnlessInUse(p)).isInstanceOf(ImageInUseException.class);
            assertThat(p).exists();
        }
    }

    @Test
    void neverRemovesASymbolicLinkNorADirectory() throws IOException {
        Path target = qcow2("target.qcow2");
        Path link = Files.createSymbolicLink(dir.resolve("link.qcow2"), target);
        assertThatThrownBy(() -> ImageFiles.deleteUnlessInUse(link)).isInstanceOf(ImageInUseException.class)
                .hasMessageContaining("not a regular file");
        assertThat(link).exists();
        assertThat(target).exists();
        Path folder = Files.createDirectory(dir.resolve("folder"));
        assertThatThrownBy(() -> ImageFiles.deleteUnlessInUse(folder)).isInstanceOf(ImageInUseException.class);
        assertThat(folder).isDirectory();
    }

    @Test
    void createNeverTouchesAnExistingFile() throws Exception {
        Path text = Files.writeString(dir.resolve("keep.txt"), "hello\n");
        assertThatThrownBy(() -> Qcow2Image.create(text, Qcow2CreateOptions.ofSize(1 << 20)))
                .isInstanceOf(FileAlreadyExistsException.class);
        assertThat(text).hasContent("hello\n");
        assertThatThrownBy(() -> Images.createRaw(text, 1 << 20)).isInstanceOf(FileAlreadyExistsException.class);
        assertThat(text).hasContent("hello\n");

        Path held = qcow2("held.qcow2");
        byte[] bytes = Files.readAllBytes(held);
        try (QemuIoHolder holder = new QemuIoHolder(held, "qcow2")) {
            assertThatThrownBy(() -> Qcow2Image.create(held, Qcow2CreateOptions.ofSize(1 << 20)))
                    .isInstanceOf(FileAlreadyExistsException.class);
            assertThat(Files.readAllBytes(held)).isEqualTo(bytes);
        }

        Path empty = Files.createDirectory(dir.resolve("empty"));
        assertThatThrownBy(() -> Qcow2Image.create(empty, Qcow2CreateOptions.ofSize(1 << 20)))
                .isInstanceOf(IOException.class);
        assertThat(empty).isDirectory();
    }

    @Test
    void aCreateThatFailsAfterMakingTheFileRemovesOnlyThatFile() throws IOException {
        // The header (with a 1000-byte backing file name) does not fit into one 512-byte cluster: this is
        // found after the file was created and the tables written.
        Path p = dir.resolve("new.qcow2");
        Qcow2CreateOptions options = Qcow2CreateOptions.ofSize(1 << 20).withClusterSize(512)
                .withBacking("b".repeat(1000), "qcow2");
        assertThatThrownBy(() -> Qcow2Image.create(p, options)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("does not fit");
        assertThat(p).as("the half-made file the call created").doesNotExist();
        try (var left = Files.list(dir)) {
            assertThat(left).isEmpty();
        }
    }

    @Test
    void aRawCreateThatFailsAfterMakingTheFileRemovesOnlyThatFile() throws IOException {
        // No file system takes a file of nearly 8 EiB: the length is refused after the file exists.
        Path p = dir.resolve("huge.raw");
        assertThatThrownBy(() -> Images.createRaw(p, Long.MAX_VALUE - 4096)).isInstanceOf(IOException.class)
                .hasMessageContaining("huge.raw");
        assertThat(p).as("the file the failed call created").doesNotExist();
    }
}
