package org.vmsnap.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.vmsnap.qcow2.io.FileBlockStore;

/** Entry points that work on any format: open with probing, info, raw create. */
public final class Images {

    /** The first four bytes of every qcow2 file: "QFI" and 0xfb. */
    private static final int QCOW2_MAGIC = 0x514649fb;

    private Images() {
    }

    /**
     * Opens an image the user named. With {@code options.format()} null the format is
     * probed from the magic (qcow2 or raw); names read from inside images are never probed.
     */
    public static BlockDevice open(Path file, OpenOptions options) throws IOException {
        String format = options.format() != null ? options.format() : probeFormat(file);
        return switch (format) {
            case "qcow2" -> Qcow2Image.open(file, options.withFormat("qcow2"));
            case "raw" -> RawImage.open(file, options);
            default -> throw unknownFormat(file, format);
        };
    }

    /**
     * "qcow2" when the file starts with the qcow2 magic, else "raw" (as qemu-img probes,
     * a short or empty file is raw).
     */
    public static String probeFormat(Path file) throws IOException {
        FileBlockStore.refuseDirectory(file);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer magic = ByteBuffer.allocate(4);
            while (magic.hasRemaining() && ch.read(magic, magic.position()) > 0) {
                // positional reads until four bytes or end of file
            }
            return !magic.hasRemaining() && magic.getInt(0) == QCOW2_MAGIC ? "qcow2" : "raw";
        }
    }

    /** Creates a sparse raw file of the given size, refusing to overwrite. */
    public static void createRaw(Path file, long sizeBytes) throws IOException {
        RawImage.create(file, sizeBytes);
    }

    /**
     * {@code qemu-img info} for one image. The backing file is not opened (as qemu-img
     * info does not), so the image of a broken chain can still be inspected.
     */
    public static ImageInfo info(Path file, OpenOptions options) throws IOException {
        try (BlockDevice device = open(file, options.withOpenBacking(false))) {
            return info(device);
        }
    }

    /** {@code qemu-img info} for an image that is already open. */
    public static ImageInfo info(BlockDevice device) throws IOException {
        if (device instanceof Qcow2Image qcow2) {
            return qcow2.info();
        }
        return new ImageInfo(device.path().toString(), device.format(), device.size(),
                device.allocatedFileBytes(), 0, false, null, null, null, List.of(), null);
    }

    static UnsupportedFeatureException unknownFormat(Path file, String format) {
        return new UnsupportedFeatureException(file, "Unknown file format '" + format
                + "' (vmsnap supports qcow2 and raw)");
    }
}
