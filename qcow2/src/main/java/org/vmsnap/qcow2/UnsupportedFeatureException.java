package org.vmsnap.qcow2;

import java.nio.file.Path;

/** A valid image that uses something vmsnap does not implement (encryption, external data file, unknown incompatible feature...). */
public final class UnsupportedFeatureException extends ImageException {
    public UnsupportedFeatureException(Path file, String message) {
        super(file, message);
    }
}
