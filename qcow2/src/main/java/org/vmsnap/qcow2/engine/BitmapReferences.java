package org.vmsnap.qcow2.engine;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The references the persistent dirty bitmaps make (QEMU's qcow2_check_bitmaps_refcounts,
 * with the bitmap directory and table checks of qcow2-bitmap.c): the directory, each bitmap
 * table and each data cluster, counted through the {@link ReferenceWalker} so that the same
 * bounds and budget apply as to every other table.
 */
final class BitmapReferences {

    private final CheckPass p;
    private final ImageChecker.Tally res;
    private final ReferenceWalker w;

    BitmapReferences(CheckPass p, ImageChecker.Tally res, ReferenceWalker w) {
        this.p = p;
        this.res = res;
        this.w = w;
    }

    private static final long BME_RESERVED_FLAGS = 0xfffffffcL;
    private static final long BME_FLAG_IN_USE = 1;
    private static final long BME_TABLE_ENTRY_RESERVED_MASK = 0xff000000000001feL;
    private static final long BME_TABLE_ENTRY_OFFSET_MASK = 0x00fffffffffffe00L;
    private static final long BME_TABLE_ENTRY_ALL_ONES = 1;
    private static final long BME_MAX_TABLE_SIZE = 0x8000000L;
    private static final long BME_MAX_PHYS_SIZE = 0x20000000L;
    private static final int BME_DIR_ENTRY_BYTES = 24;

    /** QEMU's qcow2_check_bitmaps_refcounts: directory, each bitmap table, each data cluster. */
    void count() throws IOException, ImageChecker.CheckFailed {
        BitmapsExtension ext = p.bitmaps;
        if (ext == null) {
            return;
        }
        w.inc(ext.directoryOffset(), ext.directorySize(), 1);
        int size = (int) ext.directorySize();
        if (size == 0) {
            bitmapsBroken("Requested bitmap directory size is zero");
        }
        w.charge(size / 8, "bitmap directory", ext.directoryOffset());
        ByteBuffer dir = ByteBuffer.allocate(size).order(ByteOrder.BIG_ENDIAN);
        p.read(ext.directoryOffset(), dir);
        long virtualBytes = (p.header.size() / 512) * 512;
        int pos = 0;
        int count = 0;
        record Table(long offset, long entries) {
        }
        List<Table> tables = new ArrayList<>();
        while (pos < size) {
            if (pos + BME_DIR_ENTRY_BYTES > size) {
                bitmapsBroken("Broken bitmap directory");
            }
            if (++count > ext.nbBitmaps()) {
                bitmapsBroken("More bitmaps found than specified in header extension");
            }
            long tableOffset = dir.getLong(pos);
            long tableSize = Integer.toUnsignedLong(dir.getInt(pos + 8));
            long flags = Integer.toUnsignedLong(dir.getInt(pos + 12));
            int type = dir.get(pos + 16) & 0xff;
            int granularityBits = dir.get(pos + 17) & 0xff;
            int nameSize = Short.toUnsignedInt(dir.getShort(pos + 18));
            long extraSize = Integer.toUnsignedLong(dir.getInt(pos + 20));
            long next = pos + ((BME_DIR_ENTRY_BYTES + nameSize + extraSize + 7) & ~7L);
            if (next > size) {
                bitmapsBroken("Broken bitmap directory");
            }
            if (extraSize != 0) {
                bitmapsBroken("Bitmap extra data is not supported");
            }
            long physBytes = tableSize * p.geometry.clusterSize();
            boolean bad = tableSize == 0 || tableOffset == 0 || !p.geometry.isClusterAligned(tableOffset)
                    || tableSize > BME_MAX_TABLE_SIZE || granularityBits > 31 || granularityBits < 9
                    || (flags & BME_RESERVED_FLAGS) != 0 || nameSize > 1023 || type != 1
                    || physBytes > BME_MAX_PHYS_SIZE
                    || ((flags & BME_FLAG_IN_USE) == 0
                        && Long.compareUnsigned(virtualBytes, (physBytes * 8) << granularityBits) > 0);
            if (bad) {
                String name = new String(dir.array(), pos + BME_DIR_ENTRY_BYTES, nameSize, StandardCharsets.UTF_8);
                bitmapsBroken("Bitmap '" + name + "' doesn't satisfy the constraints");
            }
            tables.add(new Table(tableOffset, tableSize));
            pos = (int) next;
        }
        if (count != ext.nbBitmaps()) {
            bitmapsBroken("Less bitmaps found than specified in header extension");
        }
        for (Table t : tables) {
            w.inc(t.offset(), t.entries() * 8, 1);
            long inFile = w.entriesInFile(t.offset(), t.entries());
            w.charge(inFile, "bitmap table", t.offset());
            long[] entries = p.readTable(t.offset(), inFile);
            for (long e : entries) {
                long offset = e & BME_TABLE_ENTRY_OFFSET_MASK;
                if ((e & BME_TABLE_ENTRY_RESERVED_MASK) != 0
                        || (offset != 0 && ((e & BME_TABLE_ENTRY_ALL_ONES) != 0 || !p.geometry.isClusterAligned(offset)))) {
                    bitmapsBroken("Invalid bitmap table entry " + Long.toHexString(e) + " in the table at 0x"
                            + Long.toHexString(t.offset()));
                }
            }
            for (long e : entries) {
                long offset = e & BME_TABLE_ENTRY_OFFSET_MASK;
                if (offset != 0) {
                    w.inc(offset, p.geometry.clusterSize(), 1);
                }
            }
        }
    }

    /** QEMU counts one corruption and fails the check when the bitmaps cannot be loaded. */
    private void bitmapsBroken(String reason) throws ImageChecker.CheckFailed {
        res.corruptions++;
        p.messages.add("ERROR bitmaps: " + reason);
        throw new ImageChecker.CheckFailed();
    }
}
