package org.vmsnap.qcow2.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.qcow2.CorruptImageException;
import org.vmsnap.qcow2.OpenOptions;
import org.vmsnap.qcow2.Qcow2Image;
import org.vmsnap.qcow2.VerifiedImages;

/**
 * The refcount walk of a read-write open is skipped only for a file exactly as vmsnap left it
 * after checking it; any other writer (here: a raw write that zeroes a refcount in use) brings
 * the walk, and its refusal, back.
 */
class VerifiedImagesTest {

    @TempDir
    Path dir;

    @AfterEach
    void off() {
        VerifiedImages.rememberIn(null);
    }

    /** Walks made by opening {@code image} read-write, writing guest cluster 2 and closing. */
    private static long walksOfOneWrite(Path image) throws IOException {
        long before = WriteOpenCheck.writeChecks();
        try (Qcow2Image img = Qcow2Image.open(image, OpenOptions.readWrite())) {
            byte[] data = new byte[img.clusterSize()];
            Arrays.fill(data, (byte) 0x5a);
            img.write(2L * data.length, ByteBuffer.wrap(data));
        }
        return WriteOpenCheck.writeChecks() - before;
    }

    /** Sets the 16-bit refcount of TinyImage's data cluster 5 to 0 behind vmsnap's back. */
    private static void zeroRefcountOfCluster5(Path image) throws IOException {
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(2), TinyImage.REFBLOCK * 1024 + 5 * 2);
        }
    }

    @Test
    void aRememberedImageIsNotWalkedAgainUntilSomethingElseWritesIt() throws IOException {
        VerifiedImages.rememberIn(dir.resolve("records"));
        Path image = HandMadeFault.CLEAN.image().writeTo(dir, "image.qcow2");
        assertThat(walksOfOneWrite(image)).as("first open: never seen").isEqualTo(1);
        assertThat(walksOfOneWrite(image)).as("as vmsnap left it").isZero();
        assertThat(walksOfOneWrite(image)).as("still as vmsnap left it").isZero();

        Path copy = Files.copy(image, dir.resolve("copy.qcow2"));
        assertThat(walksOfOneWrite(copy)).as("a copy is another file").isEqualTo(1);

        // Forgotten (a scratch image about to go): the record is gone and the next open walks.
        Path records = dir.resolve("records");
        long kept;
        try (java.util.stream.Stream<Path> all = Files.list(records)) {
            kept = all.count();
        }
        VerifiedImages.forget(copy);
        try (java.util.stream.Stream<Path> all = Files.list(records)) {
            assertThat(all.count()).isEqualTo(kept - 1);
        }
        assertThat(walksOfOneWrite(copy)).as("forgotten: walked again").isEqualTo(1);
        VerifiedImages.forget(dir.resolve("no such image.qcow2"));

        zeroRefcountOfCluster5(image);
        long before = WriteOpenCheck.writeChecks();
        assertThatThrownBy(() -> walksOfOneWrite(image)).isInstanceOf(CorruptImageException.class)
                .hasMessageContaining("not opened for writing");
        assertThat(WriteOpenCheck.writeChecks() - before).as("written by another: walked again").isEqualTo(1);
    }

    @Test
    void withoutRecordsEveryOpenWalksOnceAndASnapshotDoesNotWalkTwice() throws IOException {
        Path image = HandMadeFault.CLEAN.image().writeTo(dir, "image.qcow2");
        assertThat(walksOfOneWrite(image)).isEqualTo(1);
        assertThat(walksOfOneWrite(image)).isEqualTo(1);
        long before = WriteOpenCheck.writeChecks();
        try (Qcow2Image img = Qcow2Image.open(image, OpenOptions.readWrite())) {
            img.createSnapshot("s1");
            img.createSnapshot("s2");
        }
        assertThat(WriteOpenCheck.writeChecks() - before).as("the reopen after each switch trusts its own writes")
                .isEqualTo(1);
    }

    /**
     * The record may be written before the 20 ms timestamp margin has passed (once a probe on
     * the same file system stamps later than the image's ctime): a write by another right
     * after the close, in what may still be the same clock tick, must still be seen. Repeated,
     * because a same-tick write is a race. (On kernels with fine-grained "multigrain" ctimes
     * the file system tells such writes apart by itself; on coarse-clock kernels this is the
     * case the probe is for.)
     */
    @Test
    void aWriteRightAfterTheRecordIsAlwaysSeen() throws IOException {
        VerifiedImages.rememberIn(dir.resolve("records"));
        Path image = HandMadeFault.CLEAN.image().writeTo(dir, "image.qcow2");
        walksOfOneWrite(image);
        for (int i = 0; i < 20; i++) {
            try (Qcow2Image img = Qcow2Image.open(image, OpenOptions.readWrite())) {
                img.write(0, ByteBuffer.wrap(new byte[] {(byte) i}));
            }
            assertThat(VerifiedImages.isVerified(image)).as("as vmsnap left it, round " + i).isTrue();
            // Another writer, at once: the same bytes (the header's magic), so only the times move.
            try (FileChannel ch = FileChannel.open(image, StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.wrap(new byte[] {'Q', 'F', 'I', (byte) 0xfb}), 0);
            }
            assertThat(VerifiedImages.isVerified(image)).as("written by another right after, round " + i).isFalse();
        }
    }
}
