package org.vmsnap.qcow2.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.qcow2.CorruptImageException;
import org.vmsnap.qcow2.OpenOptions;
import org.vmsnap.qcow2.Qcow2Image;
import org.vmsnap.testkit.QemuImg;

/**
 * The refcount table's entries as an open reads them (one bulk copy, then a check of the entries
 * that are set): a QEMU-made table loads and serves reads; an entry with reserved bits or off a
 * cluster boundary, anywhere in the table, is refused with the file, the entry's offset and its
 * value, and an image of a table full of unused entries opens.
 */
class RefcountTableIT {
    @TempDir
    Path dir;

    @Test
    void qemusTableLoadsAndABadEntryIsNamedByItsOffset() throws IOException {
        Path p = dir.resolve("r.qcow2");
        QemuImg.create(p, "qcow2", 20L << 30);
        long tableOffset = header(p).getLong(48);
        try (Qcow2Image img = Qcow2Image.open(p, OpenOptions.readWrite())) {
            assertThat(img.size()).isEqualTo(20L << 30);
        }
        // The last entry of the table's first cluster: 8191 unused entries before it are skipped.
        long entry = tableOffset + 8L * 8191;
        for (long bad : new long[] {0x10200L, 0x10001L, 1L << 63}) {
            put(p, entry, bad);
            for (OpenOptions o : new OpenOptions[] {OpenOptions.readWrite(), OpenOptions.readOnlyOpen()}) {
                assertThatThrownBy(() -> Qcow2Image.open(p, o).close())
                        .isInstanceOf(CorruptImageException.class)
                        .hasMessageContaining(p.toString())
                        .hasMessageContaining("refcount table at 0x" + Long.toHexString(entry))
                        .hasMessageContaining("entry 0x" + Long.toHexString(bad));
            }
        }
        put(p, entry, 0);
        assertThat(QemuImg.check(p).clean()).isTrue();
        try (Qcow2Image img = Qcow2Image.open(p, OpenOptions.readOnlyOpen())) {
            assertThat(img.size()).isEqualTo(20L << 30);
        }
    }

    private static ByteBuffer header(Path p) throws IOException {
        return ByteBuffer.wrap(Files.readAllBytes(p), 0, 104);
    }

    private static void put(Path p, long offset, long value) throws IOException {
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(8).putLong(0, value), offset);
        }
    }
}
