package org.vmsnap.manager.xml;

import java.nio.file.Path;

/**
 * One {@code <disk>} of a {@code <domainsnapshot>}.
 *
 * @param name       the disk's target ({@code vda}) or its source path, as libvirt accepts both
 * @param mode       where the snapshot of this disk lives
 * @param source     for an external snapshot: the overlay that became the disk's image; else null
 * @param driverType for an external snapshot: the overlay's format (qcow2); else null
 */
public record SnapshotDisk(String name, SnapshotMode mode, Path source, String driverType) {
    public SnapshotDisk withSource(Path newSource) {
        return new SnapshotDisk(name, mode, newSource, driverType);
    }
}
