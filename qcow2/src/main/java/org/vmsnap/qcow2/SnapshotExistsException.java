package org.vmsnap.qcow2;

import java.nio.file.Path;

/**
 * A snapshot with this name exists already. qemu-img 7.2 accepts a duplicate name and then
 * {@code -a NAME} silently picks one of the two; vmsnap refuses the duplicate instead.
 */
public final class SnapshotExistsException extends ImageException {
    private final String name;

    public SnapshotExistsException(Path file, String name, String existingId) {
        super(file, "snapshot '" + name + "' already exists (id " + existingId + "); snapshot names must be unique");
        this.name = name;
    }

    public String name() {
        return name;
    }
}
