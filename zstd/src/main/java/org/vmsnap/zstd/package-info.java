/**
 * zstd compression of qcow2 clusters (header compression_type 1), kept out of the
 * dependency-free engine. The engine finds {@link org.vmsnap.zstd.ZstdClusterCodec} through
 * {@link java.util.ServiceLoader} as an {@link org.vmsnap.qcow2.CompressionCodec}; nothing
 * else here is meant to be called directly.
 */
package org.vmsnap.zstd;
