package org.vmsnap.qcow2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Hostile snapshot tables: each case changes one field of a valid image with two snapshots
 * and expects a typed error with one clear line naming the problem, no change on disk, and
 * no unchecked exception or OutOfMemoryError, whatever the caller tries (open read-only or
 * read-write, list, read, create, apply, delete). Plus the API's own bad input: names and
 * missing snapshots.
 */
class SnapshotBadInputTest {
    /** Header fields (qcow2 spec). */
    private static final int NB_SNAPSHOTS = 60;
    private static final int SNAPSHOTS_OFFSET = 64;
    /** Snapshot table entry fields, from the entry's start. */
    private static final int L1_TABLE_OFFSET = 0;
    private static final int L1_SIZE = 8;
    private static final int ID_STR_SIZE = 12;
    private static final int NAME_SIZE = 14;
    private static final int EXTRA_DATA_SIZE = 36;

    @TempDir
    Path dir;

    private Path valid;

    @BeforeEach
    void validImage() throws IOException {
        valid = dir.resolve("valid.qcow2");
        try (Qcow2Image img = Qcow2Image.create(valid, Qcow2CreateOptions.ofSize(8L << 20))) {
            img.write(0, ByteBuffer.wrap(new byte[100_000]).put(0, (byte) 1));
            img.createSnapshot("one");
            img.write(1 << 20, ByteBuffer.wrap(new byte[70_000]).put(5, (byte) 2));
            img.createSnapshot("two");
        }
    }

    /** A way to break the image: edits through a channel, given the two entries' offsets. */
    private interface Breaker {
        void apply(FileChannel ch, long entry0, long entry1) throws IOException;
    }

    static Stream<Arguments> cases() {
        return Stream.of(
                // nb_snapshots 2 -> 0x10000000 (QEMU's limit is 65536) and -> 65537.
                Arguments.of("count far too large", "too many snapshots",
                        (Breaker) (ch, e0, e1) -> putInt(ch, NB_SNAPSHOTS, 0x10000000)),
                Arguments.of("count just over QEMU's limit", "too many snapshots",
                        (Breaker) (ch, e0, e1) -> putInt(ch, NB_SNAPSHOTS, 65537)),
                // nb_snapshots 2 -> 1000: the entries after the second are whatever follows the
                // table (zeros here: entries with the same empty id), or past the end of the file.
                Arguments.of("count larger than the table", "snapshot",
                        (Breaker) (ch, e0, e1) -> putInt(ch, NB_SNAPSHOTS, 1000)),
                // snapshots_offset -> 1 TiB, and + 512 (not cluster aligned).
                Arguments.of("table past the end of the file", "snapshot table",
                        (Breaker) (ch, e0, e1) -> putLong(ch, SNAPSHOTS_OFFSET, 1L << 40)),
                Arguments.of("table offset misaligned", "not cluster aligned",
                        (Breaker) (ch, e0, e1) -> putLong(ch, SNAPSHOTS_OFFSET, e0 + 512)),
                // Entry 0's extra_data_size 24 -> 0x10000 (QEMU's limit is 1 KiB) and -> 0xffffffff.
                Arguments.of("extra data too large", "extra data size",
                        (Breaker) (ch, e0, e1) -> putInt(ch, e0 + EXTRA_DATA_SIZE, 0x10000)),
                Arguments.of("extra data size 4 GiB", "extra data size",
                        (Breaker) (ch, e0, e1) -> putInt(ch, e0 + EXTRA_DATA_SIZE, 0xffffffff)),
                // Entry 1's name_size -> 0xffff: the name runs over the metadata after the table.
                Arguments.of("name runs over other metadata", "snapshot table",
                        (Breaker) (ch, e0, e1) -> putShort(ch, e1 + NAME_SIZE, 0xffff)),
                // Entry 0's l1_table_offset -> 1 TiB, and + 512 (not cluster aligned).
                Arguments.of("snapshot L1 table past the end of the file", "past the end of the file",
                        (Breaker) (ch, e0, e1) -> putLong(ch, e0 + L1_TABLE_OFFSET, 1L << 40)),
                Arguments.of("snapshot L1 table misaligned", "not cluster aligned",
                        (Breaker) (ch, e0, e1) -> putLong(ch, e0 + L1_TABLE_OFFSET, getLong(ch, e0) + 512)),
                // Entry 0's l1_size 1 -> 0x10000000 entries (2 GiB; QEMU's limit is 32 MiB).
                Arguments.of("snapshot L1 table larger than the limit", "L1 table too large",
                        (Breaker) (ch, e0, e1) -> putInt(ch, e0 + L1_SIZE, 0x10000000)),
                // Entry 1's id "2" -> "1", the id of entry 0 (id_str_size 1, the id after the extra data).
                Arguments.of("duplicate ids", "duplicate snapshot id",
                        (Breaker) (ch, e0, e1) -> ch.write(ByteBuffer.wrap(new byte[] {'1'}),
                                e1 + 40 + getInt(ch, e1 + EXTRA_DATA_SIZE))),
                // Entry 0's snapshot L1 table -> the active L1 table's cluster.
                Arguments.of("snapshot L1 table on the active L1 table", "overlaps",
                        (Breaker) (ch, e0, e1) -> putLong(ch, e0 + L1_TABLE_OFFSET, getLong(ch, 40))));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void brokenSnapshotTableIsRefusedWithoutChange(String name, String expected, Breaker breaker) throws Exception {
        Path bad = dir.resolve("bad.qcow2");
        Files.copy(valid, bad);
        try (FileChannel ch = FileChannel.open(bad, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            long e0 = getLong(ch, SNAPSHOTS_OFFSET);
            long e1 = e0 + entryLength(ch, e0);
            breaker.apply(ch, e0, e1);
        }
        String before = sha256(bad);
        List<Consumer<Qcow2Image>> attempts = List.of(
                img -> { }, Qcow2Image::snapshots, img -> run(() -> img.createSnapshot("three")),
                img -> run(() -> img.applySnapshot("one")), img -> run(() -> img.deleteSnapshot("two")),
                img -> run(() -> img.readSnapshot("one").close()));
        for (boolean readOnly : new boolean[] {true, false}) {
            for (Consumer<Qcow2Image> attempt : attempts) {
                assertThatThrownBy(() -> {
                    try (Qcow2Image img = Qcow2Image.open(bad, readOnly ? OpenOptions.readOnlyOpen()
                            : OpenOptions.readWrite())) {
                        attempt.accept(img);
                    } catch (Wrapped w) {
                        throw w.getCause();
                    }
                }).as(name).isInstanceOf(ImageException.class)
                        .hasMessageContaining(bad.toString())
                        .hasMessageContaining(expected)
                        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
            }
        }
        assertThat(sha256(bad)).as("%s: nothing changed on disk", name).isEqualTo(before);
    }

    @Test
    void badNamesAndMissingSnapshotsChangeNothing() throws Exception {
        String before = sha256(valid);
        try (Qcow2Image img = Qcow2Image.open(valid, OpenOptions.readWrite())) {
            assertThatThrownBy(() -> img.createSnapshot("")).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("empty");
            assertThatThrownBy(() -> img.createSnapshot("x".repeat(256))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("too long");
            assertThatThrownBy(() -> img.createSnapshot("é".repeat(128))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("256 bytes");
            assertThatThrownBy(() -> img.createSnapshot("a\0b")).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> img.createSnapshot("one")).isInstanceOf(SnapshotExistsException.class)
                    .hasMessageContaining("'one'").hasMessageContaining("id 1");
            assertThatThrownBy(() -> img.applySnapshot("nope")).isInstanceOf(SnapshotNotFoundException.class)
                    .hasMessageContaining("'nope'");
            assertThatThrownBy(() -> img.deleteSnapshot("nope")).isInstanceOf(SnapshotNotFoundException.class)
                    .hasMessageContaining("'nope'");
            assertThatThrownBy(() -> img.readSnapshot("3")).isInstanceOf(SnapshotNotFoundException.class);
            assertThat(img.snapshots()).extracting(SnapshotInfo::name).containsExactly("one", "two");
        }
        assertThat(sha256(valid)).isEqualTo(before);
        try (Qcow2Image img = Qcow2Image.open(valid, OpenOptions.readOnlyOpen())) {
            assertThatThrownBy(() -> img.createSnapshot("ro")).isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(() -> img.deleteSnapshot("one")).isInstanceOf(IllegalStateException.class);
        }
        assertThat(sha256(valid)).isEqualTo(before);
    }

    @Test
    void idsAndLookupsAsQemu() throws Exception {
        try (Qcow2Image img = Qcow2Image.open(valid, OpenOptions.readWrite())) {
            img.createSnapshot("1");            // a name that is another snapshot's id
            img.deleteSnapshot("two");          // ids: 1 "one", 3 "1"
            SnapshotInfo next = img.createSnapshot("four");
            assertThat(next.id()).as("one more than the largest id").isEqualTo("4");
            try (BlockDevice byId = img.readSnapshot("1")) {
                // "1" is id 1 ("one") first, as QEMU looks up: byte 0 reads 1, and 1 MiB+5 reads 0.
                ByteBuffer b = ByteBuffer.allocate(1);
                byId.read((1 << 20) + 5, b);
                assertThat(b.get(0)).isZero();
            }
            img.deleteSnapshot("1");            // id 1 again, not the snapshot named "1"
            assertThat(img.snapshots()).extracting(SnapshotInfo::name).containsExactly("1", "four");
        }
    }

    private static final class Wrapped extends RuntimeException {
        Wrapped(Throwable cause) {
            super(cause);
        }
    }

    private interface IoAction {
        void run() throws IOException;
    }

    private static void run(IoAction a) {
        try {
            a.run();
        } catch (IOException e) {
            throw new Wrapped(e);
        }
    }

    private static long entryLength(FileChannel ch, long entry) throws IOException {
        long n = 40 + getInt(ch, entry + EXTRA_DATA_SIZE) + getShort(ch, entry + ID_STR_SIZE)
                + getShort(ch, entry + NAME_SIZE);
        return (n + 7) & ~7L;
    }

    private static String sha256(Path file) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    }

    private static long getLong(FileChannel ch, long at) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8);
        ch.read(b, at);
        return b.getLong(0);
    }

    private static int getInt(FileChannel ch, long at) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(4);
        ch.read(b, at);
        return b.getInt(0);
    }

    private static int getShort(FileChannel ch, long at) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(2);
        ch.read(b, at);
        return Short.toUnsignedInt(b.getShort(0));
    }

    private static void putLong(FileChannel ch, long at, long v) throws IOException {
        ch.write(ByteBuffer.allocate(8).putLong(0, v), at);
    }

    private static void putInt(FileChannel ch, long at, int v) throws IOException {
        ch.write(ByteBuffer.allocate(4).putInt(0, v), at);
    }

    private static void putShort(FileChannel ch, long at, int v) throws IOException {
        ch.write(ByteBuffer.allocate(2).putShort(0, (short) v), at);
    }
}
