package org.vmsnap.qcow2;

import java.nio.file.Path;

/** Another process (QEMU, qemu-img, another vmsnap) holds a lock that conflicts with this open. */
public final class ImageInUseException extends ImageException {
    public ImageInUseException(Path file, String message) {
        super(file, message);
    }
}
