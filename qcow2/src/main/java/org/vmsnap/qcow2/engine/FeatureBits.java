package org.vmsnap.qcow2.engine;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import org.vmsnap.qcow2.format.Header;
import org.vmsnap.qcow2.io.BlockStore;

/**
 * Sets a version 3 header's incompatible feature bits (dirty, corrupt) in place: one 8-byte
 * write of the field at byte 72, synced, so the rest of the header is never rewritten for it.
 * The engine marks an image corrupt and the checker marks it corrupt or clean through here.
 */
final class FeatureBits {
    /** The incompatible_features field of a version 3 header (docs/interop/qcow2.txt). */
    static final int INCOMPATIBLE_FEATURES_OFFSET = 72;

    private FeatureBits() {
    }

    /** Writes {@code bits} as the incompatible features and returns the header that says so; v2 unchanged. */
    static Header writeIncompatible(BlockStore store, Header header, long bits) throws IOException {
        if (header.version() < 3 || header.incompatibleFeatures() == bits) {
            return header;
        }
        store.write(INCOMPATIBLE_FEATURES_OFFSET, ByteBuffer.allocate(8).order(ByteOrder.BIG_ENDIAN).putLong(0, bits));
        store.flush();
        return header.withFeatures(bits, header.compatibleFeatures(), header.autoclearFeatures());
    }
}
