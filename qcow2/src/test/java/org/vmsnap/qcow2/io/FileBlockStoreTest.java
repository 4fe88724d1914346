package org.vmsnap.qcow2.io;

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

class FileBlockStoreTest extends BlockStoreContract {

    @TempDir
    Path dir;
    private int counter;

    @Override
    BlockStore newStore() throws IOException {
        return FileBlockStore.create(dir.resolve("store-" + (counter++) + ".img"));
    }

    /** Syncs made by two writes and a flush under {@code mode}. */
    private long syncsOfTwoWritesAndAFlush(org.vmsnap.qcow2.CacheMode mode) throws IOException {
        try (FileBlockStore store = FileBlockStore.create(dir.resolve("cache-" + mode + ".img"))) {
            store.setCacheMode(mode);
            store.write(0, ByteBuffer.wrap(new byte[] {1, 2, 3}));
            store.write(4096, ByteBuffer.wrap(new byte[] {4}));
            store.flush();
            assertThat(store.cacheMode()).isEqualTo(mode);
            return store.syncCount();
        }
    }

    @Test
    void cacheModesDecideWhenTheFileIsSynced() throws IOException {
        assertThat(syncsOfTwoWritesAndAFlush(org.vmsnap.qcow2.CacheMode.WRITEBACK)).as("writeback").isEqualTo(1);
        assertThat(syncsOfTwoWritesAndAFlush(org.vmsnap.qcow2.CacheMode.NONE)).as("none: as writeback").isEqualTo(1);
        assertThat(syncsOfTwoWritesAndAFlush(org.vmsnap.qcow2.CacheMode.UNSAFE)).as("unsafe").isZero();
        assertThat(syncsOfTwoWritesAndAFlush(org.vmsnap.qcow2.CacheMode.WRITETHROUGH)).as("writethrough")
                .isEqualTo(3);
        assertThat(syncsOfTwoWritesAndAFlush(org.vmsnap.qcow2.CacheMode.DIRECTSYNC)).as("directsync").isEqualTo(3);
    }

    /** Data blocks land, zero blocks read as zeros (holes or unwritten extents), the size covers the end. */
    @Test
    void writeIntoZerosReadsAsAWholeWrite() throws IOException {
        for (int length : new int[] {4096, 5000, 8192, 65536, 65536 + 100}) {
            for (int layout = 0; layout < 4; layout++) {
                byte[] data = new byte[length];
                for (int i = 0; i < length; i++) {
                    int block = i / 4096;
                    boolean filled = switch (layout) {
                        case 0 -> block == 0;                      // data, then a zero tail
                        case 1 -> block == (length - 1) / 4096;    // a zero head, data at the end
                        case 2 -> block % 2 == 1;                  // alternating
                        default -> i % 4096 == 4095;               // one byte per block
                    };
                    data[i] = filled ? (byte) (1 + (i % 251)) : 0;
                }
                // The buffer as the copy loops hand it: at position 0, at a position inside a
                // bigger array, and a direct slice with its own index 0.
                byte[] padded = new byte[length + 200];
                System.arraycopy(data, 0, padded, 100, length);
                ByteBuffer direct = ByteBuffer.allocateDirect(length + 200).put(100, data).slice(100, length);
                ByteBuffer src = switch (layout) {
                    case 1 -> ByteBuffer.wrap(padded, 100, length);
                    case 2 -> direct;
                    default -> ByteBuffer.wrap(data);
                };
                try (FileBlockStore store = FileBlockStore.create(dir.resolve("z-" + length + "-" + layout))) {
                    store.write(0, ByteBuffer.wrap(new byte[] {9}));
                    store.writeIntoZeros(65536, src, 4096);
                    assertThat(src.hasRemaining()).isFalse();
                    assertThat(store.size()).as("size, %d bytes, layout %d", length, layout).isEqualTo(65536 + length);
                    ByteBuffer back = ByteBuffer.allocate(length);
                    store.read(65536, back);
                    assertThat(back.array()).as("%d bytes, layout %d", length, layout).isEqualTo(data);
                }
            }
        }
    }

    @Test
    void nativeCallsAreAvailableOnLinux() {
        // The build machines are Linux x86_64/aarch64: a silent fallback here would hide
        // that QEMU-compatible locks, punching and SEEK_DATA are not being exercised.
        assertThat(NativeFile.unavailableReason()).isNull();
        assertThat(NativeFile.isAvailable()).isTrue();
    }

    /** /dev/full answers every write with ENOSPC, as a full disk does: the error names the file. */
    @Test
    void aFullDiskErrorNamesTheFile() throws IOException {
        Path full = Path.of("/dev/full");
        try (FileBlockStore store = FileBlockStore.open(full, false, false)) {
            assertThatThrownBy(() -> store.write(0, ByteBuffer.allocate(512)))
                    .isInstanceOf(java.nio.file.FileSystemException.class)
                    .hasMessage("/dev/full: No space left on device");
        }
    }

    @Test
    void createRefusesAnExistingFile() throws IOException {
        Path file = dir.resolve("exists.img");
        Files.write(file, new byte[] {1, 2, 3});
        assertThatThrownBy(() -> FileBlockStore.create(file))
                .isInstanceOf(FileAlreadyExistsException.class)
                .hasMessageContaining(file.toString());
        assertThat(Files.readAllBytes(file)).containsExactly(1, 2, 3);
    }

    @Test
    void createMakesAnEmptyFileWithMode0644() throws IOException {
        Path file = dir.resolve("new.img");
        try (FileBlockStore store = FileBlockStore.create(file)) {
            assertThat(store.size()).isZero();
            assertThat(store.isReadOnly()).isFalse();
            assertThat(store.path()).isEqualTo(file);
        }
        // 0644 minus the umask: never group- or world-writable, always owner read-write.
        var perms = Files.getPosixFilePermissions(file);
        assertThat(perms).contains(java.nio.file.attribute.PosixFilePermission.OWNER_READ,
                java.nio.file.attribute.PosixFilePermission.OWNER_WRITE);
        assertThat(perms).doesNotContain(java.nio.file.attribute.PosixFilePermission.GROUP_WRITE,
                java.nio.file.attribute.PosixFilePermission.OTHERS_WRITE,
                java.nio.file.attribute.PosixFilePermission.OWNER_EXECUTE);
    }

    @Test
    void openOfMissingFileNamesIt() {
        Path missing = dir.resolve("missing.img");
        assertThatThrownBy(() -> FileBlockStore.open(missing, true, false))
                .isInstanceOf(NoSuchFileException.class)
                .hasMessageContaining(missing.toString());
    }

    @Test
    void dataSurvivesReopenAndReadOnlyStoreRefusesChanges() throws IOException {
        Path file = dir.resolve("reopen.img");
        byte[] data = pattern(10_000, 11);
        try (FileBlockStore store = FileBlockStore.create(file)) {
            write(store, 12_345, data);
            store.flush();
        }
        try (FileBlockStore store = FileBlockStore.open(file, true, false)) {
            assertThat(store.isReadOnly()).isTrue();
            assertThat(read(store, 12_345, data.length)).isEqualTo(data);
            assertThatThrownBy(() -> store.write(0, ByteBuffer.allocate(1)))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("read-only");
            assertThatThrownBy(() -> store.truncate(0)).isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(() -> store.punchHole(0, 4096)).isInstanceOf(IllegalStateException.class);
        }
        assertThat(Files.size(file)).isEqualTo(12_345 + data.length);
    }

    @Test
    void forceShareIsOnlyForReadOnlyOpens() throws IOException {
        Path file = dir.resolve("share.img");
        Files.write(file, new byte[512]);
        assertThatThrownBy(() -> FileBlockStore.open(file, false, true))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("read-only");
    }

    @Test
    void punchHoleGivesSpaceBack() throws IOException {
        try (BlockStore store = newStore()) {
            write(store, 0, pattern(4 * MIB, 12));
            store.flush();
            long before = store.allocatedBytes();
            assertThat(before).isGreaterThanOrEqualTo(4 * MIB);

            assertThat(store.punchHole(1 * MIB, 2 * MIB)).isTrue();

            assertThat(store.allocatedBytes()).isLessThanOrEqualTo(before - 2 * MIB);
            assertThat(store.size()).isEqualTo(4 * MIB);
        }
    }

    @Test
    void growingTruncateAllocatesNothing() throws IOException {
        try (BlockStore store = newStore()) {
            store.truncate(64 * MIB);
            assertThat(store.size()).isEqualTo(64 * MIB);
            assertThat(store.allocatedBytes()).isLessThan(64 * KIB);
            assertThat(store.nextData(0)).isEqualTo(-1);
        }
    }
}
