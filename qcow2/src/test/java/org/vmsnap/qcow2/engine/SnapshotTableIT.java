package org.vmsnap.qcow2.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.qcow2.OpenOptions;
import org.vmsnap.qcow2.Qcow2CreateOptions;
import org.vmsnap.qcow2.Qcow2Image;
import org.vmsnap.qcow2.UnsupportedFeatureException;
import org.vmsnap.qcow2.format.Header;
import org.vmsnap.qcow2.format.Limits;
import org.vmsnap.qcow2.format.SnapshotEntry;
import org.vmsnap.qcow2.io.FileBlockStore;
import org.vmsnap.testkit.BadImages;
import org.vmsnap.testkit.QemuImg;

/**
 * The snapshot table's fields and limits against qemu-img 7.2: extra data vmsnap does not
 * know survives a rewrite byte for byte (and an old, short entry is extended as QEMU extends
 * it: the rewritten entries are identical to QEMU's), and both refuse a snapshot past 65536
 * entries or past a 64 MiB table.
 */
class SnapshotTableIT {

    @TempDir
    Path dir;

    @Test
    void entriesAreRewrittenByteForByteAsQemuRewritesThem() throws Exception {
        Path ours = dir.resolve("ours.qcow2");
        try (Qcow2Image img = Qcow2Image.create(ours, Qcow2CreateOptions.ofSize(4L << 20))) {
            img.write(0, ByteBuffer.wrap(new byte[70_000]).put(3, (byte) 9));
            img.createSnapshot("unknown extra");
            img.createSnapshot("short extra");
        }
        byte[] unknown = new byte[40];
        for (int i = 24; i < unknown.length; i++) {
            unknown[i] = (byte) (0xa0 + i);
        }
        rewriteTable(ours, old -> List.of(withExtra(old.get(0), unknown), withExtra(old.get(1), new byte[16])));
        assertThat(QemuImg.check(ours).exitCode()).isZero();
        byte[] before0 = entryBytes(ours, 0);

        Path theirs = dir.resolve("theirs.qcow2");
        Files.copy(ours, theirs);
        try (Qcow2Image img = Qcow2Image.open(ours, OpenOptions.readWrite())) {
            img.createSnapshot("third");
        }
        QemuImg.snapshotCreate(theirs, "third");
        assertThat(QemuImg.check(ours).exitCode()).isZero();
        assertThat(entryBytes(ours, 0)).as("unknown extra data kept").isEqualTo(before0);
        assertThat(entryBytes(ours, 0)).as("as QEMU keeps it").isEqualTo(entryBytes(theirs, 0));
        assertThat(entryBytes(ours, 1)).as("a short entry extended as QEMU extends it")
                .isEqualTo(entryBytes(theirs, 1));
        assertThat(entryBytes(ours, 1)).hasSize(SnapshotEntry.FIXED_BYTES + SnapshotEntry.STANDARD_EXTRA_BYTES
                + 1 + "short extra".length());
        try (Qcow2Image img = Qcow2Image.open(ours, OpenOptions.readWrite())) {
            img.deleteSnapshot("third");
            img.applySnapshot("short extra");
        }
        assertThat(entryBytes(ours, 0)).isEqualTo(before0);
        assertThat(QemuImg.check(ours).exitCode()).isZero();
    }

    @Test
    void atMost65536SnapshotsLikeQemu() throws Exception {
        Path file = dir.resolve("many.qcow2");
        try (Qcow2Image img = Qcow2Image.create(file, Qcow2CreateOptions.ofSize(1L << 20))) {
            img.createSnapshot("first");
        }
        // "first", then disk-only entries of an empty disk (no L1 table): the table is the only cost.
        rewriteTable(file, old -> {
            List<SnapshotEntry> all = new ArrayList<>(old);
            for (int i = 2; i <= Limits.MAX_SNAPSHOTS; i++) {
                all.add(new SnapshotEntry(0, 0, Integer.toString(i), "n" + i, 0, 0, 0, 0, 1L << 20, 0,
                        new byte[SnapshotEntry.STANDARD_EXTRA_BYTES]));
            }
            return all;
        });
        // (qemu-img needs seconds per command on 65536 snapshots: it checks once, at the end.)
        String before = BadImages.sha256(file);
        try (Qcow2Image img = Qcow2Image.open(file, OpenOptions.readWrite())) {
            assertThat(img.snapshots()).hasSize(Limits.MAX_SNAPSHOTS);
            assertThatThrownBy(() -> img.createSnapshot("one more")).isInstanceOf(UnsupportedFeatureException.class)
                    .hasMessageContaining("65536");
        }
        assertThat(BadImages.sha256(file)).isEqualTo(before);
        Path copy = dir.resolve("copy.qcow2");
        Files.copy(file, copy);
        assertThat(QemuImg.runUnchecked(List.of("snapshot", "-c", "one more", copy.toString())).exitCode())
                .as("qemu-img refuses too").isEqualTo(1);
        try (Qcow2Image img = Qcow2Image.open(file, OpenOptions.readWrite())) {
            img.deleteSnapshot("n7");
            img.createSnapshot("one more");
            assertThat(img.snapshots().getLast().id()).isEqualTo("65537");
        }
        assertThat(QemuImg.check(file).exitCode()).isZero();
    }

    @Test
    void snapshotTableOfAtMost64MiBLikeQemu() throws Exception {
        Path file = dir.resolve("big-table.qcow2");
        try (Qcow2Image img = Qcow2Image.create(file, Qcow2CreateOptions.ofSize(1L << 20))) {
            img.createSnapshot("first");
        }
        // Entries of 1 KiB extra data and 255-byte names, then one that leaves less room
        // than any new entry needs.
        byte[] extra = new byte[Limits.MAX_SNAPSHOT_EXTRA_DATA_BYTES];
        rewriteTable(file, old -> {
            List<SnapshotEntry> all = new ArrayList<>(old);
            long total = old.getFirst().encodedLength();
            int id = 2;
            while (true) {
                SnapshotEntry e = entry(id, "x".repeat(255 - 6) + String.format("%06d", id), extra);
                if (total + e.encodedLength() + 2000 > Limits.MAX_SNAPSHOT_TABLE_BYTES) {
                    break;
                }
                all.add(e);
                total += e.encodedLength();
                id++;
            }
            long room = Limits.MAX_SNAPSHOT_TABLE_BYTES - total;   // 2000 bytes or more
            int extraBytes = (int) Math.min(Limits.MAX_SNAPSHOT_EXTRA_DATA_BYTES, room - 40 - 8 - 40);
            int nameBytes = (int) (room - 40 - extraBytes - Integer.toString(id).length() - 30);
            all.add(entry(id, "y".repeat(nameBytes), new byte[extraBytes]));
            return all;
        });
        String before = BadImages.sha256(file);
        try (Qcow2Image img = Qcow2Image.open(file, OpenOptions.readWrite())) {
            assertThatThrownBy(() -> img.createSnapshot("a new snapshot"))
                    .isInstanceOf(UnsupportedFeatureException.class).hasMessageContaining("snapshot table");
        }
        assertThat(BadImages.sha256(file)).isEqualTo(before);
        Path copy = dir.resolve("copy.qcow2");
        Files.copy(file, copy);
        assertThat(QemuImg.runUnchecked(List.of("snapshot", "-c", "a new snapshot", copy.toString())).exitCode())
                .as("qemu-img refuses too").isEqualTo(1);
    }

    private static SnapshotEntry entry(int id, String name, byte[] extra) {
        byte[] e = Arrays.copyOf(extra, Math.max(extra.length, SnapshotEntry.STANDARD_EXTRA_BYTES));
        return new SnapshotEntry(0, 0, Integer.toString(id), name, 0, 0, 0, 0, 1L << 20, 0, e);
    }

    private static SnapshotEntry withExtra(SnapshotEntry s, byte[] extra) {
        long disk = extra.length >= 16 ? s.diskSize() : -1;
        long icount = extra.length >= 24 ? s.icount() : -1;
        return new SnapshotEntry(s.l1TableOffset(), s.l1Size(), s.id(), s.name(), s.dateSec(), s.dateNsec(),
                s.vmClockNsec(), s.vmStateSize(), disk, icount, extra);
    }

    /** Replaces the snapshot table through one header switch, as the engine's own operations do. */
    private static void rewriteTable(Path file, UnaryOperator<List<SnapshotEntry>> edit) throws IOException {
        FileBlockStore store = FileBlockStore.open(file, false, false);
        Qcow2Engine e = Qcow2Engine.open(store, Qcow2Engine.readHeader(store), false, null);
        try {
            List<SnapshotEntry> old = e.snapshots();
            HeaderSwitch sw = new HeaderSwitch(e);
            Header next = sw.replaceSnapshotTable(e.header(), old, edit.apply(old));
            sw.commit(next);
        } finally {
            e.close();
        }
    }

    /** The raw bytes of snapshot table entry {@code index} (without padding). */
    private static byte[] entryBytes(Path file, int index) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer h = ByteBuffer.allocate(72);
            ch.read(h, 0);
            long pos = h.getLong(64);
            for (int i = 0; ; i++) {
                ByteBuffer fixed = ByteBuffer.allocate(40);
                ch.read(fixed, pos);
                int length = 40 + fixed.getInt(36) + Short.toUnsignedInt(fixed.getShort(12))
                        + Short.toUnsignedInt(fixed.getShort(14));
                if (i == index) {
                    ByteBuffer all = ByteBuffer.allocate(length);
                    ch.read(all, pos);
                    return all.array();
                }
                pos += (length + 7) & ~7;
            }
        }
    }
}
