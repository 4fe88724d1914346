package org.vmsnap.qcow2;

import java.nio.file.Path;

/** No internal snapshot of the image has the id or name the caller asked for. */
public final class SnapshotNotFoundException extends ImageException {
    private final String idOrName;

    public SnapshotNotFoundException(Path file, String idOrName) {
        super(file, "snapshot '" + idOrName + "' not found");
        this.idOrName = idOrName;
    }

    /** The id or name that was looked up. */
    public String idOrName() {
        return idOrName;
    }
}
