package org.vmsnap.qcow2.engine;

import java.io.IOException;
import java.util.zip.DataFormatException;
import java.util.zip.Deflater;
import java.util.zip.Inflater;
import org.vmsnap.qcow2.CompressionCodec;

/**
 * qcow2's zlib compression: raw deflate. QEMU inflates with a 4 KiB window (window bits
 * 12). Clusters are deflated by the system's zlib with QEMU's parameters ({@link NativeDeflate}:
 * the same bytes as qemu-img). Without it, by Java's Deflater, which always uses 32 KiB: a full
 * flush every 4 KiB of input resets the dictionary, so no back-reference ever reaches further
 * than QEMU's window (larger clusters: the matching restarts 16 times per 64 KiB).
 */
final class ZlibCodec implements CompressionCodec {
    /** QEMU's window: 2^12 bytes. */
    private static final int WINDOW_BYTES = 4096;

    @Override
    public int compressionType() {
        return 0;
    }

    @Override
    public String name() {
        return "zlib";
    }

    /** Deflaters of earlier calls, reset. */
    private final IdlePool<Deflater> idle = new IdlePool<>(Deflater::end);

    /** False: always Java's Deflater (the fallback's tests). */
    private final boolean systemZlib;

    ZlibCodec() {
        this(true);
    }

    ZlibCodec(boolean systemZlib) {
        this.systemZlib = systemZlib;
    }

    @Override
    public int compress(byte[] src, int srcLength, byte[] dst) {
        NativeDeflate z = systemZlib ? NativeDeflate.instance() : null;
        if (z != null) {
            return z.compress(src, srcLength, dst);
        }
        Deflater d = idle.poll();
        if (d == null) {
            d = new Deflater(Deflater.DEFAULT_COMPRESSION, true);
        }
        boolean keep = false;
        try {
            int n = deflate(d, src, srcLength, dst);
            keep = true;
            return n;
        } finally {
            if (keep) {
                d.reset();
                idle.giveBack(d);
            } else {
                d.end();
            }
        }
    }

    private static int deflate(Deflater d, byte[] src, int srcLength, byte[] dst) {
        int out = 0;
        for (int pos = 0; pos < srcLength; pos += WINDOW_BYTES) {
            d.setInput(src, pos, Math.min(WINDOW_BYTES, srcLength - pos));
            // Per Deflater's contract: a full flush is complete once it returns less than the space offered.
            while (true) {
                int space = dst.length - out;
                if (space == 0) {
                    return -1;
                }
                int k = d.deflate(dst, out, space, Deflater.FULL_FLUSH);
                out += k;
                if (k < space) {
                    break;
                }
            }
        }
        d.finish();
        while (!d.finished()) {
            int space = dst.length - out;
            if (space == 0) {
                return -1;
            }
            out += d.deflate(dst, out, space);
        }
        return out;
    }

    @Override
    public void decompress(byte[] src, int srcLength, byte[] dst) throws IOException {
        Inflater inf = new Inflater(true);
        try {
            inf.setInput(src, 0, srcLength);
            int out = 0;
            while (out < dst.length) {
                int k = inf.inflate(dst, out, dst.length - out);
                out += k;
                if (k == 0 && (inf.finished() || inf.needsInput() || inf.needsDictionary())) {
                    break;
                }
            }
            if (out != dst.length) {
                throw new IOException("deflate data ends after " + out + " of " + dst.length + " bytes");
            }
        } catch (DataFormatException e) {
            throw new IOException("deflate data is invalid: " + e.getMessage(), e);
        } finally {
            inf.end();
        }
    }
}
