package org.vmsnap.qcow2;

import java.io.IOException;
import java.nio.file.Path;

/** Entry points that work on any format: open with probing, info, raw create. */
public final class Images {
    private Images() {
    }

    /**
     * Opens an image the user named. With {@code options.format()} null the format is
     * probed from the magic (qcow2 or raw); names read from inside images are never probed.
     */
    public static BlockDevice open(Path file, OpenOptions options) throws IOException {
        throw new UnsupportedOperationException("engine not yet written");
    }

    /** Creates a sparse raw file of the given size, refusing to overwrite. */
    public static void createRaw(Path file, long sizeBytes) throws IOException {
        throw new UnsupportedOperationException("engine not yet written");
    }

    /** {@code qemu-img info} for one image. */
    public static ImageInfo info(Path file, OpenOptions options) throws IOException {
        throw new UnsupportedOperationException("engine not yet written");
    }
}
