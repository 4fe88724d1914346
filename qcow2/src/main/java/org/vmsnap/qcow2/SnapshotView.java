package org.vmsnap.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.vmsnap.qcow2.engine.Qcow2Engine;

/**
 * A snapshot's disk, read-only, on the store of the image that made it. Reads go through a
 * read-only engine whose active L1 table is the snapshot's; the view refuses to read once
 * its image closed or changed its snapshots (the clusters may have been reused).
 */
final class SnapshotView implements BlockDevice {
    private final Qcow2Image image;
    private final Qcow2Engine owner;
    private final Qcow2Engine reader;
    private boolean closed;

    SnapshotView(Qcow2Image image, Qcow2Engine owner, Qcow2Engine reader) {
        this.image = image;
        this.owner = owner;
        this.reader = reader;
    }

    private void check() {
        if (closed) {
            throw new IllegalStateException("snapshot view of " + image.path() + " is closed");
        }
        if (!image.isCurrent(owner)) {
            throw new IllegalStateException("snapshot view of " + image.path()
                    + " is stale: the image was closed or its snapshots changed");
        }
    }

    @Override
    public Path path() {
        return image.path();
    }

    @Override
    public String format() {
        return "qcow2";
    }

    @Override
    public long size() {
        return reader.header().size();
    }

    @Override
    public boolean isReadOnly() {
        return true;
    }

    @Override
    public void read(long guestOffset, ByteBuffer dst) throws IOException {
        check();
        reader.read(guestOffset, dst);
    }

    @Override
    public void write(long guestOffset, ByteBuffer src) {
        throw new IllegalStateException("a snapshot of " + image.path() + " is read-only");
    }

    @Override
    public void writeZeroes(long guestOffset, long lengthBytes) {
        throw new IllegalStateException("a snapshot of " + image.path() + " is read-only");
    }

    @Override
    public void discard(long guestOffset, long lengthBytes) {
        throw new IllegalStateException("a snapshot of " + image.path() + " is read-only");
    }

    @Override
    public void flush() {
        // nothing to write
    }

    @Override
    public BlockStatus blockStatus(long guestOffset, long maxLengthBytes) throws IOException {
        check();
        return reader.blockStatus(guestOffset, maxLengthBytes);
    }

    @Override
    public long allocatedFileBytes() throws IOException {
        return image.allocatedFileBytes();
    }

    /** Closes the view only: the reader shares the image's store, which the image closes. */
    @Override
    public void close() {
        closed = true;
    }
}
