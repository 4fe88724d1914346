package org.vmsnap.qcow2.engine;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import org.vmsnap.qcow2.CorruptImageException;
import org.vmsnap.qcow2.format.Header;
import org.vmsnap.qcow2.format.HeaderExtension;

/**
 * The bitmaps header extension, as QEMU reads it: only when the autoclear bit says the
 * bitmaps are valid (otherwise QEMU ignores them and their clusters are leaks).
 */
record BitmapsExtension(int nbBitmaps, long directorySize, long directoryOffset) {

    static final int MAX_BITMAPS = 65535;
    static final long MAX_DIRECTORY_BYTES = 1024L * MAX_BITMAPS;

    static BitmapsExtension of(Path file, Header h) throws CorruptImageException {
        HeaderExtension ext = h.extension(HeaderExtension.BITMAPS);
        if (ext == null || (h.autoclearFeatures() & Header.AUTOCLEAR_BITMAPS) == 0) {
            return null;
        }
        byte[] d = ext.data();
        if (d.length != 24) {
            throw bad(file, "Invalid extension length");
        }
        ByteBuffer b = ByteBuffer.wrap(d).order(ByteOrder.BIG_ENDIAN);
        long nb = Integer.toUnsignedLong(b.getInt(0));
        if (b.getInt(4) != 0) {
            throw bad(file, "reserved field is not zero");
        }
        long size = b.getLong(8);
        long offset = b.getLong(16);
        if (nb > MAX_BITMAPS) {
            throw bad(file, "Image has " + nb + " bitmaps, exceeding the QEMU supported maximum of " + MAX_BITMAPS);
        }
        if (nb == 0) {
            throw bad(file, "found bitmaps extension with zero bitmaps");
        }
        if (Long.compareUnsigned(size, MAX_DIRECTORY_BYTES) > 0) {
            throw bad(file, "bitmap directory size (" + Long.toUnsignedString(size)
                    + ") exceeds the maximum supported size (" + MAX_DIRECTORY_BYTES + ")");
        }
        if (!h.geometry().isClusterAligned(offset)) {
            throw bad(file, "invalid bitmap directory offset");
        }
        return new BitmapsExtension((int) nb, size, offset);
    }

    private static CorruptImageException bad(Path file, String problem) {
        return new CorruptImageException(file, "bitmaps extension", -1, "bitmaps_ext: " + problem);
    }
}
