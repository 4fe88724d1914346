package org.vmsnap.qcow2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.qcow2.io.FileBlockStore;

/** Removing a file a command made: only that very file, never one put in its place meanwhile. */
class ImageFilesTest {
    @TempDir
    Path dir;

    private Object make(Path file) throws IOException {
        try (FileBlockStore store = FileBlockStore.create(file)) {
            return store.fileKey();
        }
    }

    @Test
    void theFileMadeIsRemoved() throws IOException {
        Path file = dir.resolve("new.qcow2");
        Object key = make(file);
        assertThat(ImageFiles.deleteMadeFile(file, key)).isTrue();
        assertThat(file).doesNotExist();
    }

    @Test
    void aFilePutInItsPlaceIsKept() throws IOException {
        Path file = dir.resolve("new.qcow2");
        Object key = make(file);
        Path other = Files.writeString(dir.resolve("other"), "someone else's");
        Files.move(other, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        assertThatThrownBy(() -> ImageFiles.deleteMadeFile(file, key))
                .isInstanceOf(ImageInUseException.class).hasMessageContaining("another file was put in its place");
        assertThat(file).hasContent("someone else's");
    }
}
