package org.vmsnap.qcow2.format;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.vmsnap.qcow2.CorruptImageException;
import org.vmsnap.qcow2.ImageException;
import org.vmsnap.qcow2.NotQcow2Exception;
import org.vmsnap.qcow2.UnsupportedFeatureException;

/**
 * The qcow2 header with its extensions and backing file name: everything in the header
 * cluster. Field names are the spec's; decode validates every field it reads.
 */
public record Header(int version, long backingFileOffset, int backingFileSize, int clusterBits,
                     long size, int cryptMethod, int l1Size, long l1TableOffset,
                     long refcountTableOffset, int refcountTableClusters, int nbSnapshots,
                     long snapshotsOffset, long incompatibleFeatures, long compatibleFeatures,
                     long autoclearFeatures, int refcountOrder, int headerLength,
                     int compressionType, List<HeaderExtension> extensions, String backingFileName) {

    public static final int MAGIC = 0x514649fb;

    public static final long INCOMPAT_DIRTY = 1L;
    public static final long INCOMPAT_CORRUPT = 1L << 1;
    public static final long INCOMPAT_DATA_FILE = 1L << 2;
    public static final long INCOMPAT_COMPRESSION = 1L << 3;
    public static final long INCOMPAT_EXTENDED_L2 = 1L << 4;
    public static final long INCOMPAT_KNOWN = INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_DATA_FILE
            | INCOMPAT_COMPRESSION | INCOMPAT_EXTENDED_L2;
    public static final long COMPAT_LAZY_REFCOUNTS = 1L;
    public static final long AUTOCLEAR_BITMAPS = 1L;
    public static final long AUTOCLEAR_DATA_FILE_RAW = 1L << 1;

    public static final int COMPRESSION_ZLIB = 0;
    public static final int COMPRESSION_ZSTD = 1;

    public Header {
        extensions = List.copyOf(extensions);
    }

    public Geometry geometry() {
        return new Geometry(clusterBits, refcountOrder, hasExtendedL2());
    }

    /** L2 entries are 128 bits wide, with a subcluster bitmap (incompatible feature bit 4). */
    public boolean hasExtendedL2() {
        return (incompatibleFeatures & INCOMPAT_EXTENDED_L2) != 0;
    }

    /**
     * Refuses to write an image that uses a feature vmsnap only reads. Called by every open
     * for writing (and by repairs) before anything is written, so the file stays as it was.
     */
    public void checkWritable(Path file) throws UnsupportedFeatureException {
        if (hasExtendedL2()) {
            throw new UnsupportedFeatureException(file, "extended L2 entries (subclusters) are supported read-only");
        }
    }

    public boolean isDirty() {
        return (incompatibleFeatures & INCOMPAT_DIRTY) != 0;
    }

    public boolean isCorrupt() {
        return (incompatibleFeatures & INCOMPAT_CORRUPT) != 0;
    }

    public boolean lazyRefcounts() {
        return (compatibleFeatures & COMPAT_LAZY_REFCOUNTS) != 0;
    }

    public String compat() {
        return version == 2 ? "0.10" : "1.1";
    }

    public String compressionTypeName() {
        return compressionType == COMPRESSION_ZSTD ? "zstd" : "zlib";
    }

    /** The backing format from its header extension, or null. */
    public String backingFormat() {
        for (HeaderExtension e : extensions) {
            if (e.type() == HeaderExtension.BACKING_FORMAT) {
                return new String(e.data(), StandardCharsets.UTF_8);
            }
        }
        return null;
    }

    public HeaderExtension extension(int type) {
        for (HeaderExtension e : extensions) {
            if (e.type() == type) {
                return e;
            }
        }
        return null;
    }

    // ---- decoding ---------------------------------------------------------------------

    /** Bytes to read before {@link #decode}: the largest possible header cluster. */
    public static final int MAX_HEADER_BYTES = 1 << Limits.MAX_CLUSTER_BITS;

    /**
     * Decodes and validates the header cluster.
     *
     * @param file     the image (for messages)
     * @param buf      the file's first bytes (up to one cluster, fewer for short files)
     * @param fileSize the image file's length, to reject tables past its end
     */
    public static Header decode(Path file, ByteBuffer buf, long fileSize) throws ImageException {
        ByteBuffer b = buf.duplicate().order(java.nio.ByteOrder.BIG_ENDIAN);
        int available = b.remaining();
        if (available < 8) {
            throw new NotQcow2Exception(file, "file is " + fileSize + " bytes, shorter than a qcow2 header ("
                    + Limits.V2_HEADER_BYTES + " bytes)");
        }
        int magic = b.getInt(0);
        if (magic != MAGIC) {
            throw new NotQcow2Exception(file, "not a qcow2 image: magic at 0x0 is 0x" + Integer.toHexString(magic)
                    + ", expected 0x514649fb");
        }
        int version = b.getInt(4);
        if (version != 2 && version != 3) {
            throw new UnsupportedFeatureException(file, "qcow2 version " + Integer.toUnsignedString(version)
                    + " at 0x4 is not supported (expected 2 or 3)");
        }
        if (available < Limits.V2_HEADER_BYTES) {
            throw new NotQcow2Exception(file, "file is " + fileSize + " bytes, shorter than the qcow2 header ("
                    + Limits.V2_HEADER_BYTES + " bytes)");
        }
        int clusterBits = b.getInt(20);
        if (clusterBits < Limits.MIN_CLUSTER_BITS || clusterBits > Limits.MAX_CLUSTER_BITS) {
            throw corrupt(file, 20, "cluster_bits " + Integer.toUnsignedString(clusterBits) + " outside "
                    + Limits.MIN_CLUSTER_BITS + ".." + Limits.MAX_CLUSTER_BITS);
        }
        int clusterSize = 1 << clusterBits;
        long incompatible = 0;
        long compatible = 0;
        long autoclear = 0;
        int refcountOrder = 4;
        int headerLength = Limits.V2_HEADER_BYTES;
        int compressionType = COMPRESSION_ZLIB;
        if (version == 3) {
            if (available < Limits.V3_MIN_HEADER_BYTES) {
                throw new NotQcow2Exception(file, "file is " + fileSize + " bytes, shorter than the qcow2 v3 header ("
                        + Limits.V3_MIN_HEADER_BYTES + " bytes)");
            }
            incompatible = b.getLong(72);
            compatible = b.getLong(80);
            autoclear = b.getLong(88);
            refcountOrder = b.getInt(96);
            headerLength = b.getInt(100);
            if (headerLength < Limits.V3_MIN_HEADER_BYTES || headerLength % 8 != 0 || headerLength > clusterSize) {
                throw corrupt(file, 100, "header_length " + Integer.toUnsignedString(headerLength)
                        + " invalid (expected a multiple of 8 from " + Limits.V3_MIN_HEADER_BYTES
                        + " to the cluster size " + clusterSize + ")");
            }
            if (available < headerLength) {
                throw new NotQcow2Exception(file, "file is " + fileSize + " bytes, shorter than its header_length "
                        + headerLength);
            }
            if (refcountOrder < 0 || refcountOrder > 6) {
                throw corrupt(file, 96, "refcount_order " + Integer.toUnsignedString(refcountOrder) + " outside 0..6");
            }
            if (headerLength > 104) {
                compressionType = b.get(104) & 0xff;
            }
        }
        if (available < Math.min(clusterSize, fileSize)) {
            throw new IllegalArgumentException("decode needs the whole header cluster");
        }
        long size = b.getLong(24);
        if (size < 0 || size > Limits.MAX_VIRTUAL_SIZE_BYTES) {
            throw corrupt(file, 24, "virtual size " + Long.toUnsignedString(size) + " bytes is too large");
        }
        int cryptMethod = b.getInt(32);
        int l1Size = b.getInt(36);
        long l1TableOffset = b.getLong(40);
        long refcountTableOffset = b.getLong(48);
        int refcountTableClusters = b.getInt(56);
        int nbSnapshots = b.getInt(60);
        long snapshotsOffset = b.getLong(64);
        long backingFileOffset = b.getLong(8);
        int backingFileSize = b.getInt(16);

        // Features first: an unsupported image should say so, not that a table looks odd.
        long unknown = incompatible & ~INCOMPAT_KNOWN;
        // The extensions are needed for the feature names; parse them leniently here.
        int extEnd = backingFileOffset > 0 && backingFileOffset < clusterSize ? (int) backingFileOffset : clusterSize;
        // (a hostile backing_file_offset is refused below; here it only bounds the extensions)
        extEnd = (int) Math.min(extEnd, Math.min(available, fileSize));
        List<HeaderExtension> extensions = decodeExtensions(file, b, headerLength, extEnd);
        if (unknown != 0) {
            throw new UnsupportedFeatureException(file, "unsupported incompatible features: "
                    + featureList(extensions, 0, unknown));
        }
        if (cryptMethod != 0) {
            throw new UnsupportedFeatureException(file, "encrypted images are not supported (crypt_method "
                    + Integer.toUnsignedString(cryptMethod) + ")");
        }
        if ((incompatible & INCOMPAT_DATA_FILE) != 0) {
            throw new UnsupportedFeatureException(file, "images with an external data file are not supported");
        }
        boolean extendedL2 = (incompatible & INCOMPAT_EXTENDED_L2) != 0;
        if (extendedL2 && clusterBits < Limits.MIN_EXTENDED_L2_CLUSTER_BITS) {
            // QEMU refuses to open these too ("Unsupported subcluster size").
            throw new UnsupportedFeatureException(file, "unsupported subcluster size: " + (clusterSize
                    / Limits.SUBCLUSTERS_PER_CLUSTER) + " bytes (extended L2 entries need cluster_bits at 0x14 of at least "
                    + Limits.MIN_EXTENDED_L2_CLUSTER_BITS + ", not " + clusterBits + ")");
        }
        if (compressionType != COMPRESSION_ZLIB && compressionType != COMPRESSION_ZSTD) {
            throw new UnsupportedFeatureException(file, "compression type " + compressionType + " at 0x68 is not supported");
        }
        if ((compressionType != COMPRESSION_ZLIB) != ((incompatible & INCOMPAT_COMPRESSION) != 0)) {
            throw corrupt(file, 72, "compression type " + compressionType
                    + " does not match the compression-type incompatible bit");
        }

        Geometry g = new Geometry(clusterBits, refcountOrder, extendedL2);
        // Tables: aligned, within the limits, inside the file.
        long l1Bytes = Integer.toUnsignedLong(l1Size) * 8;
        if (l1Bytes > Limits.MAX_L1_TABLE_BYTES) {
            throw corrupt(file, 36, "L1 table too large: l1_size " + Integer.toUnsignedString(l1Size)
                    + " entries exceeds " + Limits.MAX_L1_TABLE_BYTES / 8);
        }
        if (l1Size < g.l1EntriesFor(size)) {
            throw corrupt(file, 36, "L1 table too small: l1_size " + l1Size + " entries cannot map "
                    + size + " bytes (needs " + g.l1EntriesFor(size) + ")");
        }
        checkTable(file, g, 40, "L1 table", l1TableOffset, l1Bytes, fileSize);
        long reftableBytes = Integer.toUnsignedLong(refcountTableClusters) * clusterSize;
        if (refcountTableClusters == 0 || reftableBytes > Limits.MAX_REFCOUNT_TABLE_BYTES) {
            throw corrupt(file, 56, "refcount table size " + Integer.toUnsignedString(refcountTableClusters)
                    + " clusters invalid (1 to " + Limits.MAX_REFCOUNT_TABLE_BYTES / clusterSize + ")");
        }
        checkTable(file, g, 48, "refcount table", refcountTableOffset, reftableBytes, fileSize);
        if (Integer.toUnsignedLong(nbSnapshots) > Limits.MAX_SNAPSHOTS) {
            throw corrupt(file, 60, "too many snapshots: " + Integer.toUnsignedString(nbSnapshots)
                    + " (at most " + Limits.MAX_SNAPSHOTS + ")");
        }
        if (nbSnapshots > 0) {
            // Each entry is at least 40 bytes; the exact size is checked when the table is read.
            checkTable(file, g, 64, "snapshot table", snapshotsOffset, (long) nbSnapshots * 40, fileSize);
        }

        String backingFileName = null;
        // A zero-length name is no backing file, wherever it points: QEMU reads an empty
        // string there and treats the image as having none.
        if (backingFileOffset != 0 && backingFileSize != 0) {
            if (Integer.toUnsignedLong(backingFileSize) > Limits.MAX_BACKING_FILE_NAME_BYTES) {
                throw corrupt(file, 16, "backing file name too long: " + Integer.toUnsignedString(backingFileSize)
                        + " bytes (at most " + Limits.MAX_BACKING_FILE_NAME_BYTES + ")");
            }
            long nameBytes = Integer.toUnsignedLong(backingFileSize);
            // Compared without adding: an offset near Long.MAX_VALUE must not wrap around.
            if (backingFileOffset < 0 || backingFileOffset > Math.min(clusterSize, available) - nameBytes) {
                throw corrupt(file, 8, "backing file name at 0x" + Long.toHexString(backingFileOffset) + " ("
                        + backingFileSize + " bytes) lies outside the header cluster");
            }
            byte[] name = new byte[backingFileSize];
            b.get((int) backingFileOffset, name);
            backingFileName = new String(name, StandardCharsets.UTF_8);
        }
        return new Header(version, backingFileOffset, backingFileSize, clusterBits, size, cryptMethod, l1Size,
                l1TableOffset, refcountTableOffset, refcountTableClusters, nbSnapshots, snapshotsOffset,
                incompatible, compatible, autoclear, refcountOrder, headerLength, compressionType, extensions,
                backingFileName);
    }

    private static void checkTable(Path file, Geometry g, int fieldOffset, String what, long offset, long bytes,
                                   long fileSize) throws CorruptImageException {
        if (bytes == 0) {
            return;
        }
        if (offset <= 0 || !g.isClusterAligned(offset)) {
            throw corrupt(file, fieldOffset, what + " offset 0x" + Long.toHexString(offset)
                    + " is not cluster aligned (or zero)");
        }
        if (offset > Limits.MAX_HOST_OFFSET || offset + bytes > fileSize) {
            throw corrupt(file, fieldOffset, what + " at 0x" + Long.toHexString(offset) + " (" + bytes
                    + " bytes) extends past the end of the file (" + fileSize + " bytes)");
        }
    }

    private static List<HeaderExtension> decodeExtensions(Path file, ByteBuffer b, int start, int end)
            throws CorruptImageException {
        List<HeaderExtension> out = new ArrayList<>();
        int pos = start;
        while (true) {
            if (pos + 8 > end) {
                // No room for another extension header: the list ended without a marker, as
                // in old images whose backing name follows the header directly.
                return out;
            }
            int type = b.getInt(pos);
            int length = b.getInt(pos + 4);
            if (type == HeaderExtension.END) {
                return out;
            }
            long padded = (Integer.toUnsignedLong(length) + 7) & ~7L;
            if (pos + 8 + padded > end) {
                throw corrupt(file, pos, "header extension 0x" + Integer.toHexString(type) + " of "
                        + Integer.toUnsignedString(length) + " bytes runs past the end of the header area at 0x"
                        + Integer.toHexString(end));
            }
            byte[] data = new byte[length];
            b.get(pos + 8, data);
            out.add(new HeaderExtension(type, data));
            pos += 8 + (int) padded;
        }
    }

    private static String featureList(List<HeaderExtension> extensions, int kind, long bits) {
        StringBuilder sb = new StringBuilder();
        for (int bit = 0; bit < 64; bit++) {
            if ((bits & (1L << bit)) == 0) {
                continue;
            }
            String name = "unknown feature bit " + bit;
            for (HeaderExtension e : extensions) {
                if (e.type() == HeaderExtension.FEATURE_NAME_TABLE) {
                    for (HeaderExtension.FeatureName f : e.featureNames()) {
                        if (f.kind() == kind && f.bit() == bit) {
                            name = "'" + f.name() + "' (bit " + bit + ")";
                        }
                    }
                }
            }
            if (!sb.isEmpty()) {
                sb.append(", ");
            }
            sb.append(name);
        }
        return sb.toString();
    }

    private static CorruptImageException corrupt(Path file, long offset, String problem) {
        return new CorruptImageException(file, "header", offset, problem);
    }

    // ---- encoding ---------------------------------------------------------------------

    /**
     * Encodes the header cluster: fixed fields, extensions in their stored order, the end
     * marker, then the backing file name (backing_file_offset is recomputed).
     *
     * @throws IllegalStateException when it does not fit in one cluster
     */
    public byte[] encode() {
        int clusterSize = 1 << clusterBits;
        int hdrLen = version == 2 ? Limits.V2_HEADER_BYTES : headerLength;
        int extBytes = 8;
        for (HeaderExtension e : extensions) {
            extBytes += e.encodedLength();
        }
        byte[] name = backingFileName == null ? new byte[0] : backingFileName.getBytes(StandardCharsets.UTF_8);
        int total = hdrLen + extBytes + name.length;
        if (total > clusterSize) {
            throw new IllegalStateException("header needs " + total + " bytes, more than one cluster (" + clusterSize + ")");
        }
        ByteBuffer b = ByteBuffer.allocate(total);
        long nameOffset = backingFileName == null ? 0 : hdrLen + extBytes;
        b.putInt(MAGIC).putInt(version).putLong(nameOffset).putInt(name.length).putInt(clusterBits)
                .putLong(size).putInt(cryptMethod).putInt(l1Size).putLong(l1TableOffset)
                .putLong(refcountTableOffset).putInt(refcountTableClusters).putInt(nbSnapshots)
                .putLong(snapshotsOffset);
        if (version == 3) {
            b.putLong(incompatibleFeatures).putLong(compatibleFeatures).putLong(autoclearFeatures)
                    .putInt(refcountOrder).putInt(hdrLen);
            if (hdrLen > 104) {
                b.put((byte) compressionType);
            }
            b.position(hdrLen);
        }
        for (HeaderExtension e : extensions) {
            e.encodeTo(b);
        }
        b.putLong(0);
        b.put(name);
        return b.array();
    }

    /** Bytes the encoded header takes. */
    public int encodedLength() {
        int n = (version == 2 ? Limits.V2_HEADER_BYTES : headerLength) + 8;
        for (HeaderExtension e : extensions) {
            n += e.encodedLength();
        }
        return n + (backingFileName == null ? 0 : backingFileName.getBytes(StandardCharsets.UTF_8).length);
    }

    // ---- withers used by the engine ----------------------------------------------------

    public Header withL1(long offset, int entries) {
        return new Header(version, backingFileOffset, backingFileSize, clusterBits, size, cryptMethod, entries,
                offset, refcountTableOffset, refcountTableClusters, nbSnapshots, snapshotsOffset,
                incompatibleFeatures, compatibleFeatures, autoclearFeatures, refcountOrder, headerLength,
                compressionType, extensions, backingFileName);
    }

    public Header withSize(long newSize) {
        return new Header(version, backingFileOffset, backingFileSize, clusterBits, newSize, cryptMethod, l1Size,
                l1TableOffset, refcountTableOffset, refcountTableClusters, nbSnapshots, snapshotsOffset,
                incompatibleFeatures, compatibleFeatures, autoclearFeatures, refcountOrder, headerLength,
                compressionType, extensions, backingFileName);
    }

    public Header withRefcountTable(long offset, int clusters) {
        return new Header(version, backingFileOffset, backingFileSize, clusterBits, size, cryptMethod, l1Size,
                l1TableOffset, offset, clusters, nbSnapshots, snapshotsOffset,
                incompatibleFeatures, compatibleFeatures, autoclearFeatures, refcountOrder, headerLength,
                compressionType, extensions, backingFileName);
    }

    public Header withSnapshots(long offset, int count) {
        return new Header(version, backingFileOffset, backingFileSize, clusterBits, size, cryptMethod, l1Size,
                l1TableOffset, refcountTableOffset, refcountTableClusters, count, offset,
                incompatibleFeatures, compatibleFeatures, autoclearFeatures, refcountOrder, headerLength,
                compressionType, extensions, backingFileName);
    }

    public Header withFeatures(long incompatible, long compatible, long autoclear) {
        return new Header(version, backingFileOffset, backingFileSize, clusterBits, size, cryptMethod, l1Size,
                l1TableOffset, refcountTableOffset, refcountTableClusters, nbSnapshots, snapshotsOffset,
                incompatible, compatible, autoclear, refcountOrder, headerLength,
                compressionType, extensions, backingFileName);
    }

    /** Replaces the backing file name and its format extension (null removes both). */
    public Header withBacking(String name, String format) {
        List<HeaderExtension> ext = new ArrayList<>();
        boolean placed = false;
        for (HeaderExtension e : extensions) {
            if (e.type() == HeaderExtension.BACKING_FORMAT) {
                if (format != null && !placed) {
                    ext.add(HeaderExtension.backingFormat(format));
                    placed = true;
                }
            } else {
                ext.add(e);
            }
        }
        if (format != null && !placed) {
            ext.add(0, HeaderExtension.backingFormat(format));
        }
        int nameLen = name == null ? 0 : name.getBytes(StandardCharsets.UTF_8).length;
        return new Header(version, name == null ? 0 : 1, nameLen, clusterBits, size, cryptMethod, l1Size,
                l1TableOffset, refcountTableOffset, refcountTableClusters, nbSnapshots, snapshotsOffset,
                incompatibleFeatures, compatibleFeatures, autoclearFeatures, refcountOrder, headerLength,
                compressionType, ext, name);
    }

    public Header withExtensions(List<HeaderExtension> ext) {
        return new Header(version, backingFileOffset, backingFileSize, clusterBits, size, cryptMethod, l1Size,
                l1TableOffset, refcountTableOffset, refcountTableClusters, nbSnapshots, snapshotsOffset,
                incompatibleFeatures, compatibleFeatures, autoclearFeatures, refcountOrder, headerLength,
                compressionType, ext, backingFileName);
    }
}
