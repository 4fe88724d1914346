package org.vmsnap.qcow2.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;

/**
 * A {@link BlockStore} in memory, for tests. Storage is sparse: 64 KiB chunks are created
 * by writes and dropped by punchHole and truncate, so an image with a large virtual size and
 * little data costs little memory. Chunks present count as data for nextData/nextHole, like
 * allocated blocks of a file.
 */
public final class MemoryBlockStore implements BlockStore {

    private static final int CHUNK_BITS = 16;
    private static final int CHUNK_BYTES = 1 << CHUNK_BITS;
    /** Copy granularity of copyOf, in bytes. */
    private static final int COPY_BYTES = 1 << 20;

    private final Path path;
    private final TreeMap<Long, byte[]> chunks = new TreeMap<>(); // chunk index -> bytes
    private long sizeBytes;

    public MemoryBlockStore() {
        this(Path.of("memory"));
    }

    /** @param pseudoPath the name messages will use for this store */
    public MemoryBlockStore(Path pseudoPath) {
        this.path = pseudoPath;
    }

    /** A memory copy of another store's current contents (holes stay holes where it can tell). */
    public static MemoryBlockStore copyOf(BlockStore source) throws IOException {
        MemoryBlockStore copy = new MemoryBlockStore(source.path());
        long size = source.size();
        long offset = source.nextData(0);
        ByteBuffer buffer = ByteBuffer.allocate(COPY_BYTES);
        while (offset >= 0 && offset < size) {
            long end = Math.min(source.nextHole(offset), size);
            while (offset < end) {
                buffer.clear().limit((int) Math.min(COPY_BYTES, end - offset));
                source.read(offset, buffer);
                copy.write(offset, buffer.flip());
                offset += buffer.limit();
            }
            offset = end < size ? source.nextData(end) : -1;
        }
        copy.truncate(size);
        return copy;
    }

    /** The whole contents as an array (for small stores in tests). */
    public synchronized byte[] toByteArray() {
        byte[] all = new byte[Math.toIntExact(sizeBytes)];
        for (Map.Entry<Long, byte[]> e : chunks.entrySet()) {
            long start = e.getKey() << CHUNK_BITS;
            int n = (int) Math.min(CHUNK_BYTES, sizeBytes - start);
            System.arraycopy(e.getValue(), 0, all, (int) start, n);
        }
        return all;
    }

    @Override
    public Path path() {
        return path;
    }

    @Override
    public synchronized long size() {
        return sizeBytes;
    }

    @Override
    public synchronized void read(long hostOffset, ByteBuffer dst) {
        checkRange(hostOffset, dst.remaining());
        long position = hostOffset;
        while (dst.hasRemaining()) {
            int within = (int) (position & (CHUNK_BYTES - 1));
            int n = Math.min(dst.remaining(), CHUNK_BYTES - within);
            byte[] chunk = chunks.get(position >>> CHUNK_BITS);
            if (chunk == null) {
                for (int i = 0; i < n; i++) {
                    dst.put((byte) 0);
                }
            } else {
                // Chunks never hold bytes past sizeBytes (truncate zeroes them), so no clipping.
                dst.put(chunk, within, n);
            }
            position += n;
        }
    }

    @Override
    public synchronized void write(long hostOffset, ByteBuffer src) {
        long end = checkRange(hostOffset, src.remaining());
        if (end == hostOffset) {
            return; // like a file: an empty write does not extend
        }
        long position = hostOffset;
        while (src.hasRemaining()) {
            int within = (int) (position & (CHUNK_BYTES - 1));
            int n = Math.min(src.remaining(), CHUNK_BYTES - within);
            src.get(chunks.computeIfAbsent(position >>> CHUNK_BITS, k -> new byte[CHUNK_BYTES]), within, n);
            position += n;
        }
        sizeBytes = Math.max(sizeBytes, end);
    }

    @Override
    public synchronized void truncate(long newSize) {
        checkRange(newSize, 0);
        if (newSize < sizeBytes) {
            long firstWhole = ceilChunk(newSize);
            chunks.tailMap(firstWhole, true).clear();
            zeroWithinChunk(newSize, firstWhole << CHUNK_BITS);
        }
        sizeBytes = newSize;
    }

    @Override
    public void flush() {
        // Memory is as durable as it gets here; FaultyBlockStore models power loss.
    }

    @Override
    public synchronized boolean punchHole(long hostOffset, long lengthBytes) {
        long end = Math.min(checkRange(hostOffset, lengthBytes), sizeBytes); // keeps the size
        if (hostOffset >= end) {
            return true;
        }
        // Only chunks that exist need work: whole ones go, partial ones get zeros.
        var covered = chunks.subMap(hostOffset >>> CHUNK_BITS, true, (end - 1) >>> CHUNK_BITS, true)
                .entrySet().iterator();
        while (covered.hasNext()) {
            Map.Entry<Long, byte[]> e = covered.next();
            long chunkStart = e.getKey() << CHUNK_BITS;
            long from = Math.max(hostOffset, chunkStart);
            long to = Math.min(end, chunkStart + CHUNK_BYTES);
            if (from == chunkStart && to == chunkStart + CHUNK_BYTES) {
                covered.remove();
            } else {
                Arrays.fill(e.getValue(), (int) (from - chunkStart), (int) (to - chunkStart), (byte) 0);
            }
        }
        return true;
    }

    /** As the interface says for memory: the size (chunks are an implementation detail). */
    @Override
    public synchronized long allocatedBytes() {
        return sizeBytes;
    }

    @Override
    public synchronized long nextData(long hostOffset) {
        checkRange(hostOffset, 0);
        if (hostOffset >= sizeBytes) {
            return -1;
        }
        Long index = chunks.ceilingKey(hostOffset >>> CHUNK_BITS);
        return index == null ? -1 : Math.max(hostOffset, index << CHUNK_BITS);
    }

    @Override
    public synchronized long nextHole(long hostOffset) {
        checkRange(hostOffset, 0);
        if (hostOffset >= sizeBytes) {
            return sizeBytes;
        }
        long index = hostOffset >>> CHUNK_BITS;
        while (chunks.containsKey(index)) {
            index++;
        }
        return Math.min(sizeBytes, Math.max(hostOffset, index << CHUNK_BITS));
    }

    @Override
    public boolean isReadOnly() {
        return false;
    }

    @Override
    public void close() {
        // Nothing to release; the contents stay readable for a test's later checks.
    }

    @Override
    public String toString() {
        return "MemoryBlockStore[" + path + ", " + size() + " bytes]";
    }

    /** Zeroes [from, to) which must lie within one chunk (or be empty); absent chunks are zero. */
    private void zeroWithinChunk(long from, long to) {
        if (from >= to) {
            return;
        }
        byte[] chunk = chunks.get(from >>> CHUNK_BITS);
        if (chunk != null) {
            int start = (int) (from & (CHUNK_BYTES - 1));
            Arrays.fill(chunk, start, start + (int) (to - from), (byte) 0);
        }
    }

    private static long ceilChunk(long offset) {
        return (offset >>> CHUNK_BITS) + ((offset & (CHUNK_BYTES - 1)) != 0 ? 1 : 0);
    }

    /** Checks offset and length and returns their end. */
    private static long checkRange(long offset, long length) {
        if (offset < 0 || length < 0) {
            throw new IllegalArgumentException("negative offset or length: " + offset + ", " + length);
        }
        return Math.addExact(offset, length);
    }
}
