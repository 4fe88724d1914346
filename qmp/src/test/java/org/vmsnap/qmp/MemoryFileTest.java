package org.vmsnap.qmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The memory file format: a round trip of a stream several frames long (random and
 * compressible parts), and a damaged or cut file refused by {@link MemoryFile#verify} at every
 * region (header, XML, each frame header and body, trailer), each with one line naming the file.
 */
class MemoryFileTest {
    private static final String XML = "<domain type='kvm'><name>g\u00e9</name></domain>";
    private static final MemoryFileWriter.Compression SMALL_FRAMES = new MemoryFileWriter.Compression(1, 64 << 10, 2);

    @TempDir
    Path dir;

    private static byte[] stream(long seed, int bytes) {
        Random r = new Random(seed);
        byte[] b = new byte[bytes];
        for (int i = 0; i < bytes; i += 4096) {
            if ((i / 4096) % 3 == 0) {
                byte[] page = new byte[Math.min(4096, bytes - i)];
                r.nextBytes(page);
                System.arraycopy(page, 0, b, i, page.length);
            } else {
                java.util.Arrays.fill(b, i, Math.min(bytes, i + 4096), (byte) (i / 4096));
            }
        }
        return b;
    }

    private Path write(String name, byte[] content, boolean running) throws Exception {
        Path target = dir.resolve(name);
        Path partial = MemoryFileWriter.partialFor(target);
        try (MemoryFileWriter w = MemoryFileWriter.create(target, partial, XML, running, SMALL_FRAMES)) {
            // odd-sized writes cross frame boundaries
            for (int off = 0; off < content.length; off += 10007) {
                w.write(content, off, Math.min(10007, content.length - off));
            }
            w.finish();
            w.publish();
            MemoryFileWriter.dropPartial(partial);
        }
        return target;
    }

    @Test
    void aStreamComesBackWholeWithItsXmlAndState() throws Exception {
        byte[] content = stream(1, 1_000_003);
        Path f = write("a.mem", content, true);
        assertThat(Files.getPosixFilePermissions(f)).isEqualTo(PosixFilePermissions.fromString("rw-------"));
        try (Stream<Path> s = Files.list(dir)) {
            assertThat(s).containsExactly(f);
        }
        MemoryFile.Verified v = MemoryFile.verify(f);
        assertThat(v.header().domainXml()).isEqualTo(XML);
        assertThat(v.header().wasRunning()).isTrue();
        assertThat(v.streamBytes()).isEqualTo(content.length);
        assertThat(v.frameCount()).isEqualTo((content.length + (64 << 10) - 1) / (64 << 10));
        assertThat(v.fileBytes()).isLessThan(content.length);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertThat(MemoryFile.feed(v, Channels.newChannel(out), 3)).isEqualTo(content.length);
        assertThat(out.toByteArray()).isEqualTo(content);
    }

    /**
     * The socket path: read from a channel in pieces of any size straight into the frame buffers,
     * many more frames than buffers (the reader waits for the compressing and writing threads to give
     * buffers back), each level's frames in order.
     */
    @Test
    void aStreamReadFromAChannelComesBackWholeAtFastAndNormalLevels() throws Exception {
        byte[] content = stream(7, 40 * (64 << 10) + 333);
        for (int level : new int[] {-5, -1, 3}) {
            Path target = dir.resolve("c" + level + ".mem");
            Path partial = MemoryFileWriter.partialFor(target);
            java.io.InputStream odd = new java.io.ByteArrayInputStream(content) {
                private int turn;

                @Override
                public synchronized int read(byte[] b, int off, int len) {
                    return super.read(b, off, Math.min(len, 1 + (turn++ * 7919) % 50_000));
                }
            };
            try (MemoryFileWriter w = MemoryFileWriter.create(target, partial, XML, false,
                    new MemoryFileWriter.Compression(level, 64 << 10, 2))) {
                assertThat(w.transferFrom(Channels.newChannel(odd))).isEqualTo(content.length);
                w.finish();
                w.publish();
                MemoryFileWriter.dropPartial(partial);
            }
            MemoryFile.Verified v = MemoryFile.verify(target);
            assertThat(v.frameCount()).isEqualTo(41);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            assertThat(MemoryFile.feed(v, Channels.newChannel(out), 2)).isEqualTo(content.length);
            assertThat(out.toByteArray()).isEqualTo(content);
        }
    }

    @Test
    void anEmptyStreamIsAFileWithNoFrames() throws Exception {
        Path f = write("empty.mem", new byte[0], false);
        MemoryFile.Verified v = MemoryFile.verify(f);
        assertThat(v.frameCount()).isZero();
        assertThat(v.header().wasRunning()).isFalse();
    }

    @Test
    void anExistingTargetIsRefusedAndKept() throws Exception {
        Path f = Files.writeString(dir.resolve("taken"), "mine");
        assertThatThrownBy(() -> MemoryFileWriter.create(f, MemoryFileWriter.partialFor(f), XML, true, SMALL_FRAMES))
                .isInstanceOf(FileAlreadyExistsException.class).hasMessageContaining("taken")
                .hasMessageContaining("file exists");
        assertThat(f).hasContent("mine");
        try (Stream<Path> s = Files.list(dir)) {
            assertThat(s).containsExactly(f);
        }
    }

    @Test
    void aWriterClosedBeforePublishingLeavesNothing() throws Exception {
        Path target = dir.resolve("never.mem");
        try (MemoryFileWriter w = MemoryFileWriter.create(target, MemoryFileWriter.partialFor(target), XML, true,
                SMALL_FRAMES)) {
            w.write(new byte[300_000], 0, 300_000);
        }
        try (Stream<Path> s = Files.list(dir)) {
            assertThat(s).isEmpty();
        }
    }

    @Test
    void everyCutIsRefusedWithOneLine() throws Exception {
        byte[] content = stream(2, 300_000);
        Path f = write("cut.mem", content, true);
        long size = Files.size(f);
        for (long keep : new long[] {0, 5, 31, 40, 32 + 16384 + 3, size / 2, size - 41, size - 40, size - 1}) {
            Path cut = dir.resolve("cut-" + keep);
            try (FileChannel in = FileChannel.open(f); FileChannel out = FileChannel.open(cut,
                    StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                in.transferTo(0, keep, out);
            }
            assertThatThrownBy(() -> MemoryFile.verify(cut)).as("cut at %d of %d", keep, size)
                    .isInstanceOf(java.io.IOException.class).hasMessageContaining(cut.toString())
                    .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
        }
    }

    @Test
    void aFlippedByteAnywhereIsRefused() throws Exception {
        byte[] content = stream(3, 200_000);
        Path f = write("flip.mem", content, false);
        long size = Files.size(f);
        long seed = System.nanoTime();
        System.out.println("MemoryFileTest seed " + seed);
        Random r = new Random(seed);
        // the fixed places (magic, version, flags, lengths, checksums, the XML, first frame header,
        // trailer fields) and random ones in the frames
        long[] fixed = {0, 8, 11, 12, 16, 20, 24, 32, 40, 32 + 16384, 32 + 16384 + 5, 32 + 16384 + 13,
                32 + 16384 + 17, 32 + 16384 + 25, size - 40, size - 32, size - 24, size - 16, size - 8, size - 3};
        for (int i = 0; i < fixed.length + 20; i++) {
            long at = i < fixed.length ? fixed[i] : 32 + 16384 + (long) (r.nextDouble() * (size - 32 - 16384 - 40));
            byte[] bytes = Files.readAllBytes(f);
            bytes[(int) at] ^= (byte) (1 << r.nextInt(8));
            Path bad = Files.write(dir.resolve("bad"), bytes);
            if (at >= 32 + XML.getBytes().length && at < 32 + 16384) {
                MemoryFile.verify(bad); // the padding after the XML carries nothing
            } else {
                assertThatThrownBy(() -> MemoryFile.verify(bad)).as("byte %d of %d flipped", at, size)
                        .isInstanceOf(MemoryFile.BadMemoryFileException.class).hasMessageContaining("bad");
            }
            Files.delete(bad);
        }
    }

    @Test
    void aFrameDamagedAfterTheCheckIsCaughtBeforeItIsFed() throws Exception {
        byte[] content = stream(4, 400_000);
        Path f = write("late.mem", content, true);
        MemoryFile.Verified v = MemoryFile.verify(f);
        long last = v.frameOffsets()[v.frameCount() - 1];
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[] {0x55}), last + MemoryFile.FRAME_HEADER_BYTES + 2);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertThatThrownBy(() -> MemoryFile.feed(v, Channels.newChannel(out), 2))
                .isInstanceOf(MemoryFile.BadMemoryFileException.class).hasMessageContaining("frame " + (v.frameCount() - 1));
        assertThat(out.size()).as("the frames before the damaged one only").isEqualTo((v.frameCount() - 1) * (64 << 10));
    }

    @Test
    void theXmlIsRewrittenInPlaceWhenItFits() throws Exception {
        Path f = write("define.mem", stream(5, 100_000), true);
        String bigger = XML.replace("</domain>", "<description>" + "x".repeat(5000) + "</description></domain>");
        MemoryFile.rewriteHeader(f, false, bigger);
        MemoryFile.Verified v = MemoryFile.verify(f);
        assertThat(v.header().domainXml()).isEqualTo(bigger);
        assertThat(v.header().wasRunning()).isFalse();
        byte[] before = Files.readAllBytes(f);
        assertThatThrownBy(() -> MemoryFile.rewriteHeader(f, true, "x".repeat(17000)))
                .hasMessageContaining("does not fit");
        assertThat(Files.readAllBytes(f)).isEqualTo(before);
    }

    @Test
    void anotherFileIsNotAMemoryFile() throws Exception {
        Path f = Files.writeString(dir.resolve("notes.txt"), "definitely not a memory file at all");
        assertThatThrownBy(() -> MemoryFile.verify(f)).hasMessage(f + ": not a vmsnap memory file: bad magic (at"
                + " offset 0x0)");
        assertThat(MemoryFile.hasMagic(f)).isFalse();
    }
}
