package org.vmsnap.qmp.hw;

import java.nio.file.Path;
import java.util.Objects;

/**
 * One image of a disk's chain: a {@code file} node over the image file and a format node over
 * that, each with the caller's node name, so live snapshots and block jobs can name every layer.
 */
public record BlockLayer(Path file, Format format, String formatNode, String fileNode) {

    public enum Format {
        QCOW2, RAW;

        public String driver() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    public BlockLayer {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(format, "format");
        NodeNames.require(formatNode, "format node name");
        NodeNames.require(fileNode, "file node name");
        if (formatNode.equals(fileNode)) {
            throw new IllegalArgumentException("format and file node share the name " + formatNode);
        }
    }

    /** {@code <prefix>-format} over {@code <prefix>-storage}, libvirt's naming. */
    public static BlockLayer of(Path file, Format format, String prefix) {
        return new BlockLayer(file, format, prefix + "-format", prefix + "-storage");
    }
}
