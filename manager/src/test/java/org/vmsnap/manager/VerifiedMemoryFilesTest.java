package org.vmsnap.manager;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.qmp.MemoryFile;
import org.vmsnap.qmp.MemoryFileWriter;

/**
 * A memory file is read whole once per command while it stays as it was: the second check returns
 * the first one's result; any change of the file (a byte damaged in place, even with its
 * modification time set back, or the file replaced by another) makes the next check read it again.
 */
class VerifiedMemoryFilesTest {
    @TempDir
    Path dir;

    private Path write(String name, long seed) throws Exception {
        Path target = dir.resolve(name);
        Path partial = MemoryFileWriter.partialFor(target);
        byte[] content = new byte[600_000];
        new Random(seed).nextBytes(content);
        try (MemoryFileWriter w = MemoryFileWriter.create(target, partial, "<domain type='kvm'><name>v</name></domain>",
                true, new MemoryFileWriter.Compression(1, 64 << 10, 2))) {
            w.write(content, 0, content.length);
            w.finish();
            w.publish();
            MemoryFileWriter.dropPartial(partial);
        }
        Thread.sleep(VerifiedMemoryFiles.SETTLE_MILLIS + 20); // older than a change that may repeat in its tick
        return target.toAbsolutePath().normalize();
    }

    @Test
    void aFileChangedJustNowIsReadAgainEachTime() throws Exception {
        Path f = write("e.mem", 5);
        Files.setLastModifiedTime(f, Files.getLastModifiedTime(f)); // a change (of its times) just now
        MemoryFile.Verified first = VerifiedMemoryFiles.verify(f);
        assertThat(VerifiedMemoryFiles.verify(f)).isNotSameAs(first);
    }

    @Test
    void anUnchangedFileIsNotReadAgain() throws Exception {
        Path f = write("a.mem", 1);
        MemoryFile.Verified first = VerifiedMemoryFiles.verify(f);
        assertThat(VerifiedMemoryFiles.verify(f)).isSameAs(first);
        assertThat(SaveImage.open(f)).isInstanceOfSatisfying(SaveImage.Vmsnap.class,
                v -> assertThat(v.verified()).isSameAs(first));
    }

    @Test
    void aByteDamagedInPlaceIsFoundEvenWithTheOldModificationTime() throws Exception {
        Path f = write("b.mem", 2);
        MemoryFile.Verified first = VerifiedMemoryFiles.verify(f);
        FileTime mtime = Files.getLastModifiedTime(f);
        long middle = first.frameOffsets()[first.frameCount() / 2] + 100;
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(1);
            ch.read(b, middle);
            ch.write(ByteBuffer.wrap(new byte[] {(byte) ~b.get(0)}), middle);
        }
        Files.setLastModifiedTime(f, mtime); // size and mtime as before: the change time still differs
        assertThatThrownBy(() -> VerifiedMemoryFiles.verify(f)).isInstanceOf(MemoryFile.BadMemoryFileException.class)
                .hasMessageStartingWith(f.toString());
    }

    @Test
    void aFileReplacedUnderTheSameNameIsReadAgain() throws Exception {
        Path f = write("c.mem", 3);
        MemoryFile.Verified first = VerifiedMemoryFiles.verify(f);
        Path other = write("d.mem", 4);
        Files.move(other, f, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Thread.sleep(VerifiedMemoryFiles.SETTLE_MILLIS + 20); // the rename changed it just now
        MemoryFile.Verified second = VerifiedMemoryFiles.verify(f);
        assertThat(second).isNotSameAs(first);
        assertThat(VerifiedMemoryFiles.verify(f)).isSameAs(second);
    }
}
