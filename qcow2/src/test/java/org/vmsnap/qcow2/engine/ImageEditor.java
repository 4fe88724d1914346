package org.vmsnap.qcow2.engine;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import org.vmsnap.qcow2.format.ClusterDescriptor;
import org.vmsnap.qcow2.format.Header;
import org.vmsnap.qcow2.format.L1Entry;
import org.vmsnap.qcow2.format.RefcountEntries;

/** Finds structures in a QEMU-made image and breaks them, one field at a time. */
final class ImageEditor implements AutoCloseable {
    private final FileChannel ch;
    final Header header;
    final int clusterBits;
    final int clusterSize;

    ImageEditor(Path p) throws IOException {
        ch = FileChannel.open(p, StandardOpenOption.READ, StandardOpenOption.WRITE);
        ByteBuffer b = ByteBuffer.allocate((int) Math.min(Header.MAX_HEADER_BYTES, ch.size()));
        ch.read(b, 0);
        b.flip();
        header = Header.decode(p, b, ch.size());
        clusterBits = header.clusterBits();
        clusterSize = 1 << clusterBits;
    }

    long getLong(long offset) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8);
        ch.read(b, offset);
        return b.getLong(0);
    }

    void putLong(long offset, long value) throws IOException {
        ch.write(ByteBuffer.allocate(8).putLong(0, value), offset);
    }

    private long blockOffset(long cluster) throws IOException {
        int blockBits = clusterBits + 3 - header.refcountOrder();
        long entry = getLong(header.refcountTableOffset() + 8 * (cluster >>> blockBits));
        if (entry == 0) {
            throw new IllegalStateException("no refcount block for cluster " + cluster);
        }
        return entry & ~0x1ffL;
    }

    long refcount(long cluster) throws IOException {
        byte[] block = new byte[clusterSize];
        ch.read(ByteBuffer.wrap(block), blockOffset(cluster));
        int blockBits = clusterBits + 3 - header.refcountOrder();
        return RefcountEntries.get(block, (int) (cluster & ((1L << blockBits) - 1)), header.refcountOrder());
    }

    void setRefcount(long cluster, long value) throws IOException {
        long off = blockOffset(cluster);
        byte[] block = new byte[clusterSize];
        ch.read(ByteBuffer.wrap(block), off);
        int blockBits = clusterBits + 3 - header.refcountOrder();
        RefcountEntries.set(block, (int) (cluster & ((1L << blockBits) - 1)), header.refcountOrder(), value);
        ch.write(ByteBuffer.wrap(block), off);
    }

    /** Where an entry lives in the file and what it holds. */
    record Slot(long at, long raw) {
    }

    List<Slot> activeL1() throws IOException {
        List<Slot> out = new ArrayList<>();
        for (int i = 0; i < header.l1Size(); i++) {
            long at = header.l1TableOffset() + 8L * i;
            long raw = getLong(at);
            if ((raw & L1Entry.OFFSET_MASK) != 0) {
                out.add(new Slot(at, raw));
            }
        }
        return out;
    }

    /** Active L2 entries of normal (uncompressed, allocated, non-zero) clusters. */
    List<Slot> activeData() throws IOException {
        List<Slot> out = new ArrayList<>();
        for (Slot l1 : activeL1()) {
            long l2 = l1.raw() & L1Entry.OFFSET_MASK;
            for (int j = 0; j < clusterSize / 8; j++) {
                long at = l2 + 8L * j;
                long raw = getLong(at);
                if ((raw & ClusterDescriptor.COMPRESSED) == 0 && (raw & 1) == 0
                        && (raw & ClusterDescriptor.OFFSET_MASK) != 0) {
                    out.add(new Slot(at, raw));
                }
            }
        }
        return out;
    }

    @Override
    public void close() throws IOException {
        ch.force(false);
        ch.close();
    }
}
