package org.vmsnap.manager.live;

import java.nio.file.Path;

/**
 * One image of a disk's chain as QEMU opens it: the file, its format, and the names of its
 * format node and of the protocol node under it (stable names that live snapshots and block
 * jobs address).
 */
public record DiskLayer(Path file, String format, String formatNode, String storageNode) {
    /** Node names vmsnap gives: {@code vmsnap-N-format} over {@code vmsnap-N-storage}. */
    public static DiskLayer numbered(Path file, String format, int n) {
        return new DiskLayer(file, format, "vmsnap-" + n + "-format", "vmsnap-" + n + "-storage");
    }
}
