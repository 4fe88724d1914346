package org.vmsnap.zstd;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Just enough of the qcow2 spec (docs/interop/qcow2.txt) for the tests to find compressed
 * clusters without the engine: the header fields, L1 and standard (not extended) L2 entries.
 */
final class Qcow2Layout {

    static final long QCOW2_MAGIC = 0x514649fbL;
    static final int SECTOR_BYTES = 512;
    /** L1 entry bits 9-55: host offset of the L2 table. */
    static final long L1_OFFSET_MASK = 0x00ff_ffff_ffff_fe00L;
    /** Standard L2 entry bits 9-55: host offset of the data cluster. */
    static final long L2_OFFSET_MASK = 0x00ff_ffff_ffff_fe00L;
    static final long L2_COMPRESSED = 1L << 62;
    static final long L2_ZERO = 1L;

    /** Header fields the tests use, by their spec names. */
    record Header(int version, int clusterBits, long size, int l1Size, long l1TableOffset,
                  long incompatibleFeatures, int compressionType) {

        int clusterBytes() {
            return 1 << clusterBits;
        }

        /** Compressed descriptor: bits 0..x-1 host offset, x..61 additional sectors. */
        int compressedOffsetBits() {
            return 62 - (clusterBits - 8);
        }
    }

    /** One L2 entry: the guest cluster it maps and where the entry itself is in the file. */
    record L2Slot(long guestOffset, long entryHostOffset, long entry) {
    }

    /** Where a compressed cluster's bytes are, as the descriptor says. */
    record CompressedRange(long hostOffset, int additionalSectors) {

        /** From the offset to the end of the last sector the descriptor covers. */
        long storedBytes() {
            long firstSector = hostOffset & -SECTOR_BYTES;
            return firstSector + (additionalSectors + 1L) * SECTOR_BYTES - hostOffset;
        }
    }

    private Qcow2Layout() {
    }

    static Header header(FileChannel file) throws IOException {
        ByteBuffer b = read(file, 0, 112);
        if (Integer.toUnsignedLong(b.getInt(0)) != QCOW2_MAGIC) {
            throw new IOException("not a qcow2 image (magic 0x" + Integer.toHexString(b.getInt(0)) + ")");
        }
        int version = b.getInt(4);
        int headerLength = version >= 3 ? b.getInt(100) : 72;
        int compressionType = headerLength > 104 ? b.get(104) & 0xff : 0;
        return new Header(version, b.getInt(20), b.getLong(24), b.getInt(36), b.getLong(40),
                version >= 3 ? b.getLong(72) : 0, compressionType);
    }

    /** Every L2 entry of every allocated L2 table, in guest order. */
    static List<L2Slot> l2Slots(FileChannel file, Header h) throws IOException {
        int l2Entries = h.clusterBytes() / 8;
        ByteBuffer l1 = read(file, h.l1TableOffset(), Math.multiplyExact(h.l1Size(), 8));
        List<L2Slot> slots = new ArrayList<>();
        for (int i = 0; i < h.l1Size(); i++) {
            long l2TableOffset = l1.getLong(i * 8) & L1_OFFSET_MASK;
            if (l2TableOffset == 0) {
                continue;
            }
            ByteBuffer l2 = read(file, l2TableOffset, h.clusterBytes());
            for (int j = 0; j < l2Entries; j++) {
                long guestOffset = ((long) i * l2Entries + j) << h.clusterBits();
                if (guestOffset < h.size()) {
                    slots.add(new L2Slot(guestOffset, l2TableOffset + j * 8L, l2.getLong(j * 8)));
                }
            }
        }
        return slots;
    }

    static boolean isCompressed(long entry) {
        return (entry & L2_COMPRESSED) != 0;
    }

    static CompressedRange compressedRange(Header h, long entry) {
        int x = h.compressedOffsetBits();
        long hostOffset = entry & ((1L << x) - 1);
        int additionalSectors = (int) ((entry >>> x) & ((1L << (62 - x)) - 1));
        return new CompressedRange(hostOffset, additionalSectors);
    }

    static long compressedEntry(Header h, long hostOffset, int lengthBytes) {
        int x = h.compressedOffsetBits();
        long additionalSectors = (hostOffset + lengthBytes - 1) / SECTOR_BYTES - hostOffset / SECTOR_BYTES;
        if (additionalSectors >= 1L << (62 - x) || hostOffset >= 1L << x) {
            throw new IllegalArgumentException("compressed cluster does not fit a descriptor");
        }
        return L2_COMPRESSED | additionalSectors << x | hostOffset;
    }

    static ByteBuffer read(FileChannel file, long position, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length);
        while (b.hasRemaining()) {
            int n = file.read(b, position + b.position());
            if (n < 0) {
                throw new IOException("short read at 0x" + Long.toHexString(position + b.position()));
            }
        }
        return b.flip();
    }

    static FileChannel open(Path image, boolean writable) throws IOException {
        return writable
                ? FileChannel.open(image, StandardOpenOption.READ, StandardOpenOption.WRITE)
                : FileChannel.open(image, StandardOpenOption.READ);
    }
}
