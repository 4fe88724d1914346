package org.vmsnap.qcow2.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.qcow2.ImageInUseException;

/**
 * Lock conflicts between opens inside one JVM: OFD locks conflict between descriptors even
 * of the same process, so two stores here behave like two processes. The QEMU side is in
 * ImageLockIT.
 */
class ImageLockTest {

    private static final String WRITE_LOCK = "Failed to get \"write\" lock";
    private static final String SHARED_WRITE_LOCK = "Failed to get shared \"write\" lock";

    @TempDir
    Path dir;
    private Path image;

    @BeforeEach
    void makeImage() throws IOException {
        image = dir.resolve("disk.img");
        Files.write(image, new byte[4096]);
    }

    @Test
    void secondWriterIsRefused() throws IOException {
        try (FileBlockStore first = FileBlockStore.open(image, false, false)) {
            assertThatThrownBy(() -> FileBlockStore.open(image, false, false))
                    .isInstanceOf(ImageInUseException.class)
                    .hasMessage(image + ": " + WRITE_LOCK
                            + ": is another process using the image (QEMU, qemu-img)?");
            assertThat(first.isReadOnly()).isFalse();
        }
    }

    @Test
    void readerIsRefusedWhileWriterHoldsTheImage() throws IOException {
        try (FileBlockStore writer = FileBlockStore.open(image, false, false)) {
            assertThatThrownBy(() -> FileBlockStore.open(image, true, false))
                    .isInstanceOf(ImageInUseException.class)
                    .hasMessageContaining(SHARED_WRITE_LOCK);
            assertThat(writer.isReadOnly()).isFalse();
        }
    }

    @Test
    void writerIsRefusedWhileReaderHoldsTheImage() throws IOException {
        try (FileBlockStore reader = FileBlockStore.open(image, true, false)) {
            assertThatThrownBy(() -> FileBlockStore.open(image, false, false))
                    .isInstanceOf(ImageInUseException.class)
                    .hasMessageContaining(WRITE_LOCK);
            assertThat(reader.isReadOnly()).isTrue();
        }
    }

    @Test
    void readersShare() throws IOException {
        try (FileBlockStore a = FileBlockStore.open(image, true, false);
             FileBlockStore b = FileBlockStore.open(image, true, false)) {
            assertThat(a.size()).isEqualTo(b.size()).isEqualTo(4096);
        }
    }

    @Test
    void forceShareReadsBesideAWriter() throws IOException {
        try (FileBlockStore writer = FileBlockStore.open(image, false, false)) {
            BlockStoreContract.write(writer, 0, new byte[] {42});
            try (FileBlockStore shared = FileBlockStore.open(image, true, true)) {
                assertThat(BlockStoreContract.read(shared, 0, 1)).containsExactly(42);
            }
        }
    }

    @Test
    void closeReleasesAndARefusedOpenLeavesNothingBehind() throws IOException {
        FileBlockStore writer = FileBlockStore.open(image, false, false);
        assertThatThrownBy(() -> FileBlockStore.open(image, false, false)).isInstanceOf(ImageInUseException.class);
        writer.close();
        // Neither the closed writer nor the refused opener still holds a byte.
        try (FileBlockStore again = FileBlockStore.open(image, false, false)) {
            assertThat(again.isReadOnly()).isFalse();
        }
        try (FileBlockStore created = FileBlockStore.create(dir.resolve("new.img"))) {
            assertThatThrownBy(() -> FileBlockStore.open(created.path(), true, false))
                    .as("a created image is held for writing")
                    .isInstanceOf(ImageInUseException.class);
        }
    }

    @Test
    void fallbackLocksSeeOfdLocksOfAnotherOpen() throws IOException {
        // Linux makes classic and OFD locks conflict, so the FileChannel fallback can be
        // checked against the real OFD path (as a non-Linux build would face QEMU's locks).
        try (FileBlockStore writer = FileBlockStore.open(image, false, false);
             FileChannel channel = FileChannel.open(image, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            assertThatThrownBy(() -> ImageLock.acquireFallback(channel, image, true))
                    .isInstanceOf(ImageInUseException.class)
                    .hasMessageContaining(WRITE_LOCK);
            assertThat(writer.isReadOnly()).isFalse();
        }
    }

    @Test
    void fallbackLocksAreSeenByOfdOpensAndReleasedOnClose() throws IOException {
        try (FileChannel channel = FileChannel.open(image, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ImageLock lock = ImageLock.acquireFallback(channel, image, true);
            assertThatThrownBy(() -> FileBlockStore.open(image, true, false))
                    .isInstanceOf(ImageInUseException.class)
                    .hasMessageContaining(SHARED_WRITE_LOCK);
            lock.close();
            try (FileBlockStore reader = FileBlockStore.open(image, true, false)) {
                reader.read(0, ByteBuffer.allocate(1));
            }
        }
    }

    @Test
    void fallbackRefusesASecondFallbackOpenInTheSameJvm() throws IOException {
        try (FileChannel a = FileChannel.open(image, StandardOpenOption.READ, StandardOpenOption.WRITE);
             FileChannel b = FileChannel.open(image, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ImageLock first = ImageLock.acquireFallback(a, image, true);
            assertThatThrownBy(() -> ImageLock.acquireFallback(b, image, true))
                    .isInstanceOf(ImageInUseException.class);
            first.close();
            ImageLock.acquireFallback(b, image, true).close();
        }
    }
}
