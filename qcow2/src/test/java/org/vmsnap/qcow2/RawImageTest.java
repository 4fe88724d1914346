package org.vmsnap.qcow2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RawImageTest {

    @TempDir
    Path dir;

    @Test
    void createMakesAFileOfTheSizeAndRefusesToOverwrite() throws IOException {
        Path f = dir.resolve("a.raw");
        RawImage.create(f, 3 << 20);
        assertThat(Files.size(f)).isEqualTo(3 << 20);
        assertThatThrownBy(() -> RawImage.create(f, 1024)).isInstanceOf(FileAlreadyExistsException.class);
        assertThat(Files.size(f)).isEqualTo(3 << 20);
    }

    @Test
    void createRoundsUpToWholeSectors() throws IOException {
        Path f = dir.resolve("tiny.raw");
        RawImage.create(f, 100);
        assertThat(Files.size(f)).isEqualTo(512);
        RawImage.create(dir.resolve("empty.raw"), 0);
        assertThat(Files.size(dir.resolve("empty.raw"))).isZero();
    }

    @Test
    void sizeIsRoundedUpToSectorsAndTheTailReadsZeros() throws IOException {
        Path f = dir.resolve("odd.raw");
        Files.write(f, new byte[] {1, 2, 3});
        try (RawImage img = RawImage.open(f, OpenOptions.readOnlyOpen())) {
            assertThat(img.size()).isEqualTo(512);
            ByteBuffer buf = ByteBuffer.allocate(512);
            img.read(0, buf);
            assertThat(buf.array()[2]).isEqualTo((byte) 3);
            assertThat(buf.array()[3]).isZero();
            assertThat(buf.array()[511]).isZero();
        }
    }

    @Test
    void writeThenReadBack() throws IOException {
        Path f = dir.resolve("rw.raw");
        RawImage.create(f, 1 << 20);
        try (RawImage img = RawImage.open(f, OpenOptions.readWrite())) {
            img.write(70000, ByteBuffer.wrap("hello".getBytes()));
            img.writeZeroes(70001, 2);
            img.flush();
        }
        try (RawImage img = RawImage.open(f, OpenOptions.readOnlyOpen())) {
            ByteBuffer buf = ByteBuffer.allocate(5);
            img.read(70000, buf);
            assertThat(buf.array()).isEqualTo(new byte[] {'h', 0, 0, 'l', 'o'});
        }
    }

    @Test
    void readsAndWritesOutsideTheDiskAreRefused() throws IOException {
        Path f = dir.resolve("b.raw");
        RawImage.create(f, 4096);
        try (RawImage img = RawImage.open(f, OpenOptions.readWrite())) {
            assertThatThrownBy(() -> img.read(4000, ByteBuffer.allocate(200)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("b.raw").hasMessageContaining("0xfa0");
            assertThatThrownBy(() -> img.write(-1, ByteBuffer.allocate(1))).isInstanceOf(IllegalArgumentException.class);
        }
        try (RawImage img = RawImage.open(f, OpenOptions.readOnlyOpen())) {
            assertThatThrownBy(() -> img.write(0, ByteBuffer.allocate(1)))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("read-only");
        }
    }

    @Test
    void openOfAMissingFileNamesItAndCreatesNothing() {
        Path f = dir.resolve("missing.raw");
        assertThatThrownBy(() -> RawImage.open(f, OpenOptions.readWrite())).isInstanceOf(NoSuchFileException.class);
        assertThat(Files.exists(f)).isFalse();
    }

    @Test
    void blockStatusReportsPresentDataAtItsOwnOffsetAndThePastEndTailAsZero() throws IOException {
        Path f = dir.resolve("s.raw");
        Files.write(f, new byte[1023]);
        try (RawImage img = RawImage.open(f, OpenOptions.readOnlyOpen())) {
            BlockStatus first = img.blockStatus(0, img.size());
            assertThat(first.present()).isTrue();
            assertThat(first.depth()).isZero();
            assertThat(first.hostOffset()).isZero();
            assertThat(first.file()).isEqualTo(f);
            // Whatever the store can tell about holes, byte 1023 lies past the end of the file.
            BlockStatus tail = img.blockStatus(1023, 1);
            assertThat(tail).isEqualTo(new BlockStatus(1, 0, true, true, false, false, 1023, f));
            long covered = 0;
            while (covered < img.size()) {
                covered += img.blockStatus(covered, img.size() - covered).lengthBytes();
            }
            assertThat(covered).isEqualTo(1024);
        }
    }

    @Test
    void resizeGrowsAndShrinksTheFileExactly() throws IOException {
        Path f = dir.resolve("r.raw");
        RawImage.create(f, 1 << 20);
        try (RawImage img = RawImage.open(f, OpenOptions.readWrite())) {
            img.resize((2 << 20) + 1000);
            assertThat(Files.size(f)).isEqualTo((2 << 20) + 1000);
            assertThat(img.size()).isEqualTo((2 << 20) + 1024);
            img.resize(4096);
            assertThat(img.size()).isEqualTo(4096);
        }
        assertThat(Files.size(f)).isEqualTo(4096);
    }
}
