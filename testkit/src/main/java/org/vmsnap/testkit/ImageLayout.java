package org.vmsnap.testkit;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Where things are in a small, valid qcow2 file, read with plain big-endian ByteBuffers
 * after {@code docs/interop/qcow2.txt} (testkit must not use the engine it tests). Only what
 * {@link BadImages} needs to break one field at a time; it trusts its input, which QEMU made.
 */
record ImageLayout(
        long fileSize,
        int version,
        long backingFileOffset,
        int backingFileSize,
        int clusterBits,
        long size,
        int l1Size,
        long l1TableOffset,
        long refcountTableOffset,
        int refcountTableClusters,
        int nbSnapshots,
        long snapshotsOffset,
        int refcountOrder,
        int headerLength) {

    // Header field offsets (qcow2.txt "Header").
    static final int MAGIC = 0;
    static final int VERSION = 4;
    static final int BACKING_FILE_OFFSET = 8;
    static final int BACKING_FILE_SIZE = 16;
    static final int CLUSTER_BITS = 20;
    static final int SIZE = 24;
    static final int L1_SIZE = 36;
    static final int L1_TABLE_OFFSET = 40;
    static final int REFCOUNT_TABLE_OFFSET = 48;
    static final int REFCOUNT_TABLE_CLUSTERS = 56;
    static final int NB_SNAPSHOTS = 60;
    static final int SNAPSHOTS_OFFSET = 64;
    static final int INCOMPATIBLE_FEATURES = 72;
    static final int REFCOUNT_ORDER = 96;
    static final int HEADER_LENGTH = 100;

    static final int QCOW_MAGIC = 0x514649fb; // "QFI\xfb"
    static final int V2_HEADER_LENGTH = 72;

    /** L1 entry bits 9-55 and L2 standard descriptor bits 9-55: the host offset. */
    static final long OFFSET_MASK = 0x00ff_ffff_ffff_fe00L;
    /** Bit 63 of L1/L2 entries: refcount is exactly one. */
    static final long COPIED = 1L << 63;
    /** Bit 62 of an L2 entry: compressed cluster. */
    static final long COMPRESSED = 1L << 62;

    static ImageLayout read(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer h = ByteBuffer.allocate(104).order(ByteOrder.BIG_ENDIAN);
            ch.read(h, 0);
            if (h.getInt(MAGIC) != QCOW_MAGIC) {
                throw new IllegalStateException(file + " is not a qcow2 file");
            }
            int version = h.getInt(VERSION);
            return new ImageLayout(
                    ch.size(),
                    version,
                    h.getLong(BACKING_FILE_OFFSET),
                    h.getInt(BACKING_FILE_SIZE),
                    h.getInt(CLUSTER_BITS),
                    h.getLong(SIZE),
                    h.getInt(L1_SIZE),
                    h.getLong(L1_TABLE_OFFSET),
                    h.getLong(REFCOUNT_TABLE_OFFSET),
                    h.getInt(REFCOUNT_TABLE_CLUSTERS),
                    h.getInt(NB_SNAPSHOTS),
                    h.getLong(SNAPSHOTS_OFFSET),
                    version >= 3 ? h.getInt(REFCOUNT_ORDER) : 4,
                    version >= 3 ? h.getInt(HEADER_LENGTH) : V2_HEADER_LENGTH);
        }
    }

    long clusterSize() {
        return 1L << clusterBits;
    }

    /** Host offset of L1 entry {@code index}. */
    long l1EntryOffset(int index) {
        return l1TableOffset + 8L * index;
    }

    /** Host offset of the L2 entry mapping {@code guestOffset}, via the L1 entry read from the file. */
    long l2EntryOffset(FileChannel ch, long guestOffset) throws IOException {
        long l2Entries = clusterSize() / 8;
        long guestCluster = guestOffset >>> clusterBits;
        int l1Index = Math.toIntExact(guestCluster / l2Entries);
        long l2Offset = readLong(ch, l1EntryOffset(l1Index)) & OFFSET_MASK;
        if (l2Offset == 0) {
            throw new IllegalStateException("guest offset " + guestOffset + " has no L2 table");
        }
        return l2Offset + 8 * (guestCluster % l2Entries);
    }

    /** Host cluster offset a standard L2 entry points at. */
    static long standardHostOffset(long l2Entry) {
        if ((l2Entry & COMPRESSED) != 0) {
            throw new IllegalStateException("compressed entry " + Long.toHexString(l2Entry));
        }
        return l2Entry & OFFSET_MASK;
    }

    /** Bit where the sector count of a compressed descriptor starts: 62 - (cluster_bits - 8). */
    int compressedOffsetBits() {
        return 62 - (clusterBits - 8);
    }

    /** Host offset of a compressed cluster's data. */
    long compressedHostOffset(long l2Entry) {
        return l2Entry & ((1L << compressedOffsetBits()) - 1);
    }

    /** Bytes from the compressed data's start to the end of its last 512-byte sector. */
    long compressedSpanBytes(long l2Entry) {
        int x = compressedOffsetBits();
        long additionalSectors = (l2Entry & ~COMPRESSED & ~COPIED) >>> x;
        long host = compressedHostOffset(l2Entry);
        return (additionalSectors + 1) * 512 - (host % 512);
    }

    /** Host offset and width of the refcount entry of the host cluster at {@code hostOffset}: only 16-bit refcounts. */
    long refcountEntryOffset(FileChannel ch, long hostOffset) throws IOException {
        if (refcountOrder != 4) {
            throw new IllegalStateException("only 16-bit refcounts are handled, order " + refcountOrder);
        }
        long entriesPerBlock = clusterSize() * 8 / 16;
        long cluster = hostOffset >>> clusterBits;
        long blockIndex = cluster / entriesPerBlock;
        long block = readLong(ch, refcountTableOffset + 8 * blockIndex) & ~0x1ffL;
        return block + 2 * (cluster % entriesPerBlock);
    }

    /** Offset of the first header extension: right after the header. */
    long firstExtensionOffset() {
        return headerLength;
    }

    static long readLong(FileChannel ch, long offset) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8);
        readFully(ch, b, offset);
        return b.getLong(0);
    }

    static int readInt(FileChannel ch, long offset) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(4);
        readFully(ch, b, offset);
        return b.getInt(0);
    }

    private static void readFully(FileChannel ch, ByteBuffer b, long offset) throws IOException {
        while (b.hasRemaining()) {
            int n = ch.read(b, offset + b.position());
            if (n < 0) {
                throw new IOException("unexpected end of file at " + (offset + b.position()));
            }
        }
    }
}
