package org.vmsnap.qcow2.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.qcow2.CheckResult;
import org.vmsnap.qcow2.CorruptImageException;
import org.vmsnap.qcow2.OpenOptions;
import org.vmsnap.qcow2.Qcow2CreateOptions;
import org.vmsnap.qcow2.Qcow2Image;
import org.vmsnap.qcow2.RepairMode;
import org.vmsnap.qcow2.format.Limits;
import org.vmsnap.qcow2.format.SnapshotEntry;
import org.vmsnap.qcow2.io.FileBlockStore;

/**
 * The snapshot table has one reader ({@link SnapshotTableReader#scan}): opening an image and
 * checking it apply the same extra-data and table-size limits, at the same entry. Opening
 * refuses the image; the check fails with QEMU's check lines (qemu-img 7.2 check prints
 * exactly these on the same images, built with qemu-img snapshot and patched the same way).
 */
class SnapshotTableRulesTest {
    private static final int NB_SNAPSHOTS = 60;
    private static final int SNAPSHOTS_OFFSET = 64;

    @TempDir
    Path dir;

    @Test
    void extraDataOverTheLimitIsRefusedByOpenAndCheck() throws Exception {
        Path img = dir.resolve("extra.qcow2");
        try (Qcow2Image i = Qcow2Image.create(img, Qcow2CreateOptions.ofSize(8L << 20))) {
            i.createSnapshot("one");
            i.createSnapshot("two");
        }
        try (FileChannel ch = FileChannel.open(img, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            long e0 = getLong(ch, SNAPSHOTS_OFFSET);
            long e1 = e0 + paddedLength(ch, e0);
            ch.write(ByteBuffer.allocate(4).putInt(0, Limits.MAX_SNAPSHOT_EXTRA_DATA_BYTES + 1), e1 + 36);
        }
        assertThatThrownBy(() -> Qcow2Image.open(img, OpenOptions.readOnlyOpen()).close())
                .isInstanceOf(CorruptImageException.class).hasMessageContaining("entry 1 extra data size");
        CheckResult r = check(img);
        assertThat(r.checkErrors()).isEqualTo(1);
        assertThat(r.messages()).containsExactly(
                "ERROR failed to read the snapshot table: Too much extra metadata in snapshot table entry 1",
                "You can force-remove this extra metadata with qemu-img check -r all");
    }

    @Test
    void tableOverTheLimitIsRefusedByOpenAndCheckAtTheSameEntry() throws Exception {
        Path img = dir.resolve("big.qcow2");
        try (Qcow2Image i = Qcow2Image.create(img, Qcow2CreateOptions.ofSize(8L << 20))) {
            i.createSnapshot("one");
        }
        // A table of entries with the longest id and name, placed past everything else in a
        // sparse file long enough to hold it (so only the size limit can refuse it).
        int nb = 600;
        long unpadded = SnapshotEntry.FIXED_BYTES + 0xffff + 0xffff;
        long padded = (unpadded + 7) & ~7L;
        long tableAt = 16L << 20;
        long firstRefused = -1;
        try (FileChannel ch = FileChannel.open(img, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            for (int k = 0; k < nb; k++) {
                long pos = tableAt + k * padded;
                ByteBuffer fixed = ByteBuffer.allocate(SnapshotEntry.FIXED_BYTES);
                fixed.putShort(12, (short) 0xffff).putShort(14, (short) 0xffff);
                ch.write(fixed, pos);
                ch.write(ByteBuffer.wrap(Integer.toString(k + 1).getBytes()), pos + SnapshotEntry.FIXED_BYTES);
                if (firstRefused < 0 && k * padded + unpadded > Limits.MAX_SNAPSHOT_TABLE_BYTES) {
                    firstRefused = k;
                }
            }
            ch.write(ByteBuffer.allocate(1), tableAt + nb * padded + (1L << 20));
            ch.write(ByteBuffer.allocate(4).putInt(0, nb), NB_SNAPSHOTS);
            ch.write(ByteBuffer.allocate(8).putLong(0, tableAt), SNAPSHOTS_OFFSET);
        }
        assertThat(firstRefused).as("the table crosses the limit before its end").isBetween(1L, nb - 1L);
        assertThatThrownBy(() -> Qcow2Image.open(img, OpenOptions.readOnlyOpen()).close())
                .isInstanceOf(CorruptImageException.class)
                .hasMessageContaining("table exceeds " + Limits.MAX_SNAPSHOT_TABLE_BYTES + " bytes");
        CheckResult r = check(img);
        assertThat(r.checkErrors()).isEqualTo(1);
        assertThat(r.messages()).containsExactly(
                "ERROR failed to read the snapshot table: Snapshot table is too big",
                "You can force-remove all " + (nb - firstRefused) + " overhanging snapshots with qemu-img check -r all");
    }

    private static CheckResult check(Path img) throws IOException {
        try (FileBlockStore s = FileBlockStore.open(img, true, false)) {
            return ImageChecker.check(s, RepairMode.NONE);
        }
    }

    private static long paddedLength(FileChannel ch, long entry) throws IOException {
        ByteBuffer f = ByteBuffer.allocate(SnapshotEntry.FIXED_BYTES);
        ch.read(f, entry);
        long unpadded = SnapshotEntry.FIXED_BYTES + Integer.toUnsignedLong(f.getInt(36))
                + Short.toUnsignedInt(f.getShort(12)) + Short.toUnsignedInt(f.getShort(14));
        return (unpadded + 7) & ~7L;
    }

    private static long getLong(FileChannel ch, long at) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8);
        ch.read(b, at);
        return b.getLong(0);
    }
}
