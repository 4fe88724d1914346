package org.vmsnap.zstd;

import com.github.luben.zstd.EndDirective;
import com.github.luben.zstd.ZstdCompressCtx;
import com.github.luben.zstd.ZstdDecompressCtx;
import com.github.luben.zstd.ZstdException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Objects;
import org.vmsnap.qcow2.CompressionCodec;

/**
 * zstd compression of single qcow2 clusters, in the form QEMU (5.1 and later, as in 7.2's
 * block/qcow2-threads.c) reads and writes:
 *
 * <ul>
 *   <li>A cluster is stored as one zstd frame made with default parameters (level 3, no
 *       checksum, no dictionary) in a single end-of-stream call, so the frame header records
 *       the content size. A result that does not fit in the space the caller offers (QEMU
 *       offers cluster_size - 1 bytes) means "store the cluster uncompressed".
 *   <li>The L2 descriptor only knows the compressed length in 512-byte sectors, and QEMU
 *       packs compressed clusters back to back, so the bytes after a frame are usually the
 *       start of the next cluster's frame. Decoding therefore runs the streaming decoder until
 *       the cluster is full and never looks at what follows; the input may hold several
 *       frames (QEMU accepts that), but the frame being decoded when the cluster fills up must
 *       end there: data that would overflow the cluster is corrupt.
 *   <li>Every decoder step must consume input or produce output; a step that does neither
 *       (input ended before the cluster was full) is corrupt data, not a reason to wait.
 * </ul>
 *
 * Every failure is an {@link IOException}: zstd-jni's unchecked {@link ZstdException} and a
 * missing native library are translated here. The codec is thread-safe; native contexts are
 * pooled.
 */
public final class ZstdClusterCodec implements CompressionCodec {

    /** The header's compression_type value for zstd (qcow2 spec, "compression type"). */
    public static final int COMPRESSION_TYPE_ZSTD = 1;

    private static final ContextPool<ZstdCompressCtx> COMPRESSORS = new ContextPool<>(ZstdCompressCtx::new);
    private static final ContextPool<ZstdDecompressCtx> DECOMPRESSORS = new ContextPool<>(ZstdDecompressCtx::new);

    /** Public no-argument constructor, as {@link java.util.ServiceLoader} needs. */
    public ZstdClusterCodec() {
    }

    @Override
    public int compressionType() {
        return COMPRESSION_TYPE_ZSTD;
    }

    @Override
    public String name() {
        return "zstd";
    }

    @Override
    public int compress(byte[] src, int srcLength, byte[] dst) throws IOException {
        Objects.requireNonNull(dst, "dst");
        Objects.checkFromIndexSize(0, srcLength, Objects.requireNonNull(src, "src").length);
        ZstdCompressCtx context = take(COMPRESSORS);
        try {
            // reset() restores zstd's default parameters, which are the ones QEMU uses, and
            // drops any half-written frame left by an earlier result that did not fit.
            context.reset();
            ByteBuffer in = ByteBuffer.wrap(src, 0, srcLength);
            ByteBuffer out = ByteBuffer.wrap(dst);
            // One call with END, like QEMU: zstd then knows the source size, writes it into
            // the frame header, and returns "done" only when the whole frame fitted in dst.
            boolean frameComplete = context.compressByteBufferStream(out, in, EndDirective.END);
            COMPRESSORS.give(context);
            return frameComplete ? out.position() : -1;
        } catch (ZstdException e) {
            COMPRESSORS.discard(context);
            throw new IOException("zstd compression of a " + srcLength + "-byte cluster failed: "
                    + e.getMessage(), e);
        }
    }

    @Override
    public void decompress(byte[] src, int srcLength, byte[] dst) throws IOException {
        Objects.requireNonNull(dst, "dst");
        Objects.checkFromIndexSize(0, srcLength, Objects.requireNonNull(src, "src").length);
        ZstdDecompressCtx context = take(DECOMPRESSORS);
        try {
            context.reset();
            ByteBuffer in = ByteBuffer.wrap(src, 0, srcLength);
            ByteBuffer out = ByteBuffer.wrap(dst);
            // With nothing to do the frame state is "complete", as in QEMU (zstd_ret starts at 0).
            boolean frameComplete = true;
            while (out.hasRemaining()) {
                int inBefore = in.position();
                int outBefore = out.position();
                frameComplete = context.decompressByteBufferStream(out, in);
                if (in.position() == inBefore && out.position() == outBefore) {
                    throw new IOException("zstd cluster data ends after " + in.position() + " of "
                            + srcLength + " bytes with only " + out.position() + " of " + dst.length
                            + " cluster bytes decoded");
                }
            }
            if (!frameComplete) {
                throw new IOException("zstd frame in a compressed cluster decodes to more than the "
                        + dst.length + "-byte cluster (" + in.position() + " of " + srcLength
                        + " input bytes read)");
            }
            DECOMPRESSORS.give(context);
        } catch (ZstdException e) {
            DECOMPRESSORS.discard(context);
            throw new IOException("corrupt zstd cluster data: " + e.getMessage()
                    + " (error code " + e.getErrorCode() + ")", e);
        } catch (IOException e) {
            DECOMPRESSORS.discard(context);
            throw e;
        }
    }

    private static <C extends AutoCloseable> C take(ContextPool<C> pool) throws IOException {
        try {
            return pool.take();
        } catch (LinkageError e) {
            // zstd-jni loads its native library on first use; a platform without one must give
            // a typed error that the caller can report, not an Error that ends the process.
            throw new IOException("zstd is not available on this platform: " + e, e);
        }
    }
}
