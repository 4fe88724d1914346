package org.vmsnap.qcow2;

import java.io.IOException;

/**
 * Compression of single qcow2 clusters. zlib (raw deflate) is built in; other types are
 * found with {@link java.util.ServiceLoader}, so the engine itself has no dependencies.
 */
public interface CompressionCodec {

    /** The header's compression_type value: 0 zlib, 1 zstd. */
    int compressionType();

    /** "zlib" or "zstd", as qemu-img names them. */
    String name();

    /**
     * Compresses one cluster. Returns the compressed length, or -1 when the result would
     * not fit in {@code dst.length} bytes (then the cluster is stored uncompressed).
     */
    int compress(byte[] src, int srcLength, byte[] dst) throws IOException;

    /**
     * Decompresses into exactly {@code dst.length} bytes from {@code src[0..srcLength)}.
     * The input may be followed by padding up to the sector boundary, as QEMU writes it.
     *
     * @throws IOException when the data does not inflate to a full cluster
     */
    void decompress(byte[] src, int srcLength, byte[] dst) throws IOException;
}
