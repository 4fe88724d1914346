package org.vmsnap.qcow2.engine;

import java.nio.file.Path;
import java.util.ServiceLoader;
import org.vmsnap.qcow2.CompressionCodec;
import org.vmsnap.qcow2.UnsupportedFeatureException;

/** Finds the codec for a header's compression_type: zlib built in, others as services. */
final class Codecs {
    private static final CompressionCodec ZLIB = new ZlibCodec();

    private Codecs() {
    }

    static CompressionCodec forType(Path file, int compressionType) throws UnsupportedFeatureException {
        if (compressionType == 0) {
            return ZLIB;
        }
        for (CompressionCodec c : ServiceLoader.load(CompressionCodec.class, Codecs.class.getClassLoader())) {
            if (c.compressionType() == compressionType) {
                return c;
            }
        }
        throw new UnsupportedFeatureException(file, "compression type " + compressionType
                + " needs a codec that is not installed (the vmsnap-zstd module provides zstd)");
    }
}
