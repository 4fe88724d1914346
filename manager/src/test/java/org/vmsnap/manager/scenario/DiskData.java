package org.vmsnap.manager.scenario;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HexFormat;

import org.vmsnap.qcow2.BlockDevice;

/**
 * The bytes one disk must read, as 64 KiB chunks shared between copies: a write copies only the
 * chunks it touches, so every snapshot of the model can keep its own disk for little memory.
 * Immutable.
 */
final class DiskData {
    static final int CHUNK = 64 << 10;
    private static final byte[] ZEROS = new byte[CHUNK];
    /** Reads from the device under test in pieces this large. */
    private static final int READ = 1 << 20;

    private final long size;
    /** null: the chunk reads as zeros. Never written after construction. */
    private final byte[][] chunks;

    private DiskData(long size, byte[][] chunks) {
        this.size = size;
        this.chunks = chunks;
    }

    static DiskData zeros(long size) {
        if (size % READ != 0) {
            throw new IllegalArgumentException("model disks are whole MiB, not " + size);
        }
        return new DiskData(size, new byte[Math.toIntExact(size / CHUNK)][]);
    }

    long size() {
        return size;
    }

    DiskData write(long offset, byte[] data) {
        if (offset < 0 || offset + data.length > size) {
            throw new IllegalArgumentException("write 0x" + Long.toHexString(offset) + "+" + data.length
                    + " outside a disk of " + size + " bytes");
        }
        byte[][] next = chunks.clone();
        long pos = offset;
        int done = 0;
        while (done < data.length) {
            int index = (int) (pos / CHUNK);
            int within = (int) (pos % CHUNK);
            int n = Math.min(CHUNK - within, data.length - done);
            byte[] c = next[index] == null ? new byte[CHUNK] : next[index].clone();
            System.arraycopy(data, done, c, within, n);
            next[index] = c;
            pos += n;
            done += n;
        }
        return new DiskData(size, next);
    }

    /** Fails, naming {@code what}, the first differing offset and both bytes there, unless the device reads these bytes. */
    void assertReads(BlockDevice device, String what) throws IOException {
        if (device.size() != size) {
            throw new AssertionError(what + ": virtual size " + device.size() + ", expected " + size);
        }
        ByteBuffer buf = ByteBuffer.allocate(READ);
        for (long at = 0; at < size; at += READ) {
            buf.clear();
            device.read(at, buf);
            byte[] got = buf.array();
            for (int i = 0; i < READ / CHUNK; i++) {
                int index = (int) (at / CHUNK) + i;
                byte[] want = chunks[index] == null ? ZEROS : chunks[index];
                int m = Arrays.mismatch(got, i * CHUNK, (i + 1) * CHUNK, want, 0, CHUNK);
                if (m >= 0) {
                    long off = (long) index * CHUNK + m;
                    int from = i * CHUNK + m;
                    int len = Math.min(16, CHUNK - m);
                    throw new AssertionError(String.format("%s (%s): first difference at offset 0x%x:"
                            + " read %s, expected %s%s", what, device.path(), off,
                            HexFormat.of().formatHex(got, from, from + len),
                            HexFormat.of().formatHex(want, m, m + len),
                            chunks[index] == null ? " (never written: zeros)" : ""));
                }
            }
        }
    }
}
