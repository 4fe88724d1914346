package org.vmsnap.qcow2.engine;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.vmsnap.qcow2.io.BlockStore;

/**
 * A minimal FileChannel-backed {@link BlockStore} for the checker's tests, until the real
 * io.FileBlockStore is merged. Counts writes and flushes so tests can see what a check did.
 */
final class FileStoreDouble implements BlockStore {
    private final Path path;
    private final FileChannel ch;
    private final boolean readOnly;
    int writes;
    int flushes;

    private FileStoreDouble(Path path, boolean readOnly) throws IOException {
        this.path = path;
        this.readOnly = readOnly;
        this.ch = readOnly ? FileChannel.open(path, StandardOpenOption.READ)
                : FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
    }

    static FileStoreDouble readOnly(Path p) throws IOException {
        return new FileStoreDouble(p, true);
    }

    static FileStoreDouble readWrite(Path p) throws IOException {
        return new FileStoreDouble(p, false);
    }

    @Override
    public Path path() {
        return path;
    }

    @Override
    public long size() throws IOException {
        return ch.size();
    }

    @Override
    public void read(long hostOffset, ByteBuffer dst) throws IOException {
        long pos = hostOffset;
        while (dst.hasRemaining()) {
            int n = ch.read(dst, pos);
            if (n < 0) {
                while (dst.hasRemaining()) {
                    dst.put((byte) 0);
                }
                return;
            }
            pos += n;
        }
    }

    @Override
    public void write(long hostOffset, ByteBuffer src) throws IOException {
        if (readOnly) {
            throw new IOException(path + " is read-only");
        }
        writes++;
        long pos = hostOffset;
        while (src.hasRemaining()) {
            pos += ch.write(src, pos);
        }
    }

    @Override
    public void truncate(long sizeBytes) throws IOException {
        if (sizeBytes < ch.size()) {
            ch.truncate(sizeBytes);
        } else if (sizeBytes > ch.size()) {
            ch.write(ByteBuffer.allocate(1), sizeBytes - 1);
        }
    }

    @Override
    public void flush() throws IOException {
        flushes++;
        ch.force(false);
    }

    @Override
    public boolean punchHole(long hostOffset, long lengthBytes) {
        return false;
    }

    @Override
    public long allocatedBytes() throws IOException {
        return ch.size();
    }

    @Override
    public long nextData(long hostOffset) throws IOException {
        return hostOffset < ch.size() ? hostOffset : -1;
    }

    @Override
    public long nextHole(long hostOffset) throws IOException {
        return ch.size();
    }

    @Override
    public boolean isReadOnly() {
        return readOnly;
    }

    @Override
    public void close() throws IOException {
        ch.close();
    }
}
