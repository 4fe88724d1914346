package org.vmsnap.qcow2;

import java.nio.file.Path;

/**
 * The image's metadata is inconsistent: names the kind of metadata and the host offset
 * where the problem is, so the message leads straight to the bytes.
 */
public final class CorruptImageException extends ImageException {
    private final String metadataKind;
    private final long hostOffset;

    public CorruptImageException(Path file, String metadataKind, long hostOffset, String problem) {
        super(file, "corrupt " + metadataKind + (hostOffset >= 0 ? " at " + hex(hostOffset) : "") + ": " + problem);
        this.metadataKind = metadataKind;
        this.hostOffset = hostOffset;
    }

    public CorruptImageException(Path file, String metadataKind, long hostOffset, String problem, Throwable cause) {
        super(file, "corrupt " + metadataKind + (hostOffset >= 0 ? " at " + hex(hostOffset) : "") + ": " + problem, cause);
        this.metadataKind = metadataKind;
        this.hostOffset = hostOffset;
    }

    /** "header", "L1 table", "L2 table", "refcount block", "snapshot table", "compressed cluster"... */
    public String metadataKind() {
        return metadataKind;
    }

    /** Host offset in the image file, or -1 when none applies. */
    public long hostOffset() {
        return hostOffset;
    }
}
