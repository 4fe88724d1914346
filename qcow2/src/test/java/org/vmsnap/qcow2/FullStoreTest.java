package org.vmsnap.qcow2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;

import org.junit.jupiter.api.Test;
import org.vmsnap.qcow2.engine.ImageChecker;
import org.vmsnap.qcow2.engine.ImageCreator;
import org.vmsnap.qcow2.io.BlockStore;
import org.vmsnap.qcow2.io.MemoryBlockStore;

/**
 * A full disk (ENOSPC) in the middle of an engine operation: the process goes on, so what the
 * engine already wrote stays and its caches are flushed at close. The image must then check
 * clean: no cluster may keep a refcount that nothing refers to.
 */
class FullStoreTest {

    /**
     * A store on a nearly full disk: bytes up to {@code limit} can be written, a write past it
     * writes what fits and then fails, as a file system that runs out of pages mid-write does.
     */
    static final class FullStore implements BlockStore {
        private final MemoryBlockStore inner;
        private final long limit;

        FullStore(MemoryBlockStore inner, long limit) {
            this.inner = inner;
            this.limit = limit;
        }

        private void room(long end) throws IOException {
            if (end > limit) {
                throw new java.nio.file.FileSystemException(path().toString(), null, "No space left on device");
            }
        }

        @Override public Path path() { return inner.path(); }
        @Override public long size() { return inner.size(); }
        @Override public void read(long o, ByteBuffer dst) { inner.read(o, dst); }
        @Override public void write(long o, ByteBuffer src) throws IOException {
            if (o + src.remaining() > limit && o < limit) {
                inner.write(o, src.slice(src.position(), (int) (limit - o)));
            }
            room(o + src.remaining());
            inner.write(o, src);
        }
        @Override public void truncate(long n) throws IOException {
            room(n);
            inner.truncate(n);
        }
        @Override public void flush() { }
        @Override public boolean punchHole(long o, long n) throws IOException { return inner.punchHole(o, n); }
        @Override public long allocatedBytes() throws IOException { return inner.allocatedBytes(); }
        @Override public long nextData(long o) throws IOException { return inner.nextData(o); }
        @Override public long nextHole(long o) throws IOException { return inner.nextHole(o); }
        @Override public boolean isReadOnly() { return false; }
        @Override public void close() { }
    }

    /** 1 MiB, 512-byte clusters, data in two places: growing it to 512 MiB needs a larger L1 table. */
    private static MemoryBlockStore smallClusters() throws IOException {
        MemoryBlockStore mem = new MemoryBlockStore(Path.of("full.qcow2"));
        ImageCreator.create(mem, Qcow2CreateOptions.ofSize(1 << 20).withClusterSize(512));
        try (Qcow2Image image = Qcow2Image.openStore(mem, false, null)) {
            byte[] data = new byte[64 << 10];
            Arrays.fill(data, (byte) 0x11);
            image.write(0, ByteBuffer.wrap(data));
            image.write(700 << 10, ByteBuffer.wrap(data, 0, 4096));
        }
        return mem;
    }

    @Test
    void aGrowWhoseNewL1TableFindsNoSpaceLeaksNothing() throws IOException {
        MemoryBlockStore mem = smallClusters();
        // a little room (less than the new table needs), as a disk that is nearly full has
        Qcow2Image image = Qcow2Image.openStore(new FullStore(mem, mem.size() + 1024), false, null);
        assertThatThrownBy(() -> image.resize(512L << 20)).hasMessageContaining("No space left on device");
        assertThat(image.size()).isEqualTo(1 << 20);
        try {
            image.close();
        } catch (IOException full) {
            // a refcount block made for the taken-back clusters cannot be written either: the
            // table on disk does not point at it, so that is no leak
            assertThat(full).hasMessageContaining("No space left on device");
        }
        CheckResult c = ImageChecker.check(mem, RepairMode.NONE);
        assertThat(c.leaks() + c.corruptions()).as("check: %s", c.messages()).isZero();
    }
}
