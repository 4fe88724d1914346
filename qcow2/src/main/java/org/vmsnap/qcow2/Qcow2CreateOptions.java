package org.vmsnap.qcow2;

/**
 * What {@code qemu-img create -f qcow2 -o ...} accepts, with its defaults.
 *
 * @param sizeBytes        virtual size; -1 takes the backing file's size
 * @param clusterSizeBytes power of two, 512 B .. 2 MiB (default 64 KiB)
 * @param refcountBits     1, 2, 4, 8, 16, 32 or 64 (default 16; compat 0.10 needs 16)
 * @param compat           "1.1" (version 3, default) or "0.10" (version 2)
 * @param backingFile      backing file name as stored in the header, or null
 * @param backingFormat    "qcow2" or "raw"; required with a backing file
 * @param lazyRefcounts    set the lazy refcounts compatible feature (version 3 only)
 * @param preallocation    "off" or "metadata"
 * @param compressionType  "zlib" (default) or "zstd" (version 3 only)
 */
public record Qcow2CreateOptions(long sizeBytes, int clusterSizeBytes, int refcountBits, String compat,
                                 String backingFile, String backingFormat, boolean lazyRefcounts,
                                 String preallocation, String compressionType) {

    public static final int DEFAULT_CLUSTER_SIZE = 65536;
    public static final int DEFAULT_REFCOUNT_BITS = 16;

    public static Qcow2CreateOptions ofSize(long sizeBytes) {
        return new Qcow2CreateOptions(sizeBytes, DEFAULT_CLUSTER_SIZE, DEFAULT_REFCOUNT_BITS, "1.1",
                null, null, false, "off", "zlib");
    }

    public Qcow2CreateOptions withClusterSize(int bytes) {
        return new Qcow2CreateOptions(sizeBytes, bytes, refcountBits, compat, backingFile, backingFormat,
                lazyRefcounts, preallocation, compressionType);
    }

    public Qcow2CreateOptions withRefcountBits(int bits) {
        return new Qcow2CreateOptions(sizeBytes, clusterSizeBytes, bits, compat, backingFile, backingFormat,
                lazyRefcounts, preallocation, compressionType);
    }

    public Qcow2CreateOptions withCompat(String newCompat) {
        return new Qcow2CreateOptions(sizeBytes, clusterSizeBytes, refcountBits, newCompat, backingFile,
                backingFormat, lazyRefcounts, preallocation, compressionType);
    }

    public Qcow2CreateOptions withBacking(String file, String format) {
        return new Qcow2CreateOptions(sizeBytes, clusterSizeBytes, refcountBits, compat, file, format,
                lazyRefcounts, preallocation, compressionType);
    }

    public Qcow2CreateOptions withLazyRefcounts(boolean lazy) {
        return new Qcow2CreateOptions(sizeBytes, clusterSizeBytes, refcountBits, compat, backingFile,
                backingFormat, lazy, preallocation, compressionType);
    }

    public Qcow2CreateOptions withPreallocation(String mode) {
        return new Qcow2CreateOptions(sizeBytes, clusterSizeBytes, refcountBits, compat, backingFile,
                backingFormat, lazyRefcounts, mode, compressionType);
    }

    public Qcow2CreateOptions withCompressionType(String type) {
        return new Qcow2CreateOptions(sizeBytes, clusterSizeBytes, refcountBits, compat, backingFile,
                backingFormat, lazyRefcounts, preallocation, type);
    }
}
