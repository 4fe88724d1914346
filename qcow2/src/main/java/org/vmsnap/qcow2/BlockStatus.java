package org.vmsnap.qcow2;

/**
 * The status of a run of guest bytes, in the terms of {@code qemu-img map --output=json}.
 *
 * @param lengthBytes length of the run in bytes (always &gt; 0)
 * @param depth       0 when this image decides the run, 1 for its backing file, and so on;
 *                    for an unallocated run that reads as zeros, the depth of the last layer
 *                    asked (the bottom of the chain, or the layer whose backing file is shorter)
 * @param present     some image of the chain holds the run (data or zero)
 * @param zero        the run reads as zeros
 * @param data        the run is backed by data in a file
 * @param compressed  the run is one compressed cluster
 * @param hostOffset  offset of the run in the file at {@code depth} where it is plain data
 *                    there, or -1
 * @param file        the file at {@code depth}, or null when no file holds the run
 */
public record BlockStatus(long lengthBytes, int depth, boolean present, boolean zero,
                          boolean data, boolean compressed, long hostOffset,
                          java.nio.file.Path file) {

    public BlockStatus {
        if (lengthBytes <= 0) {
            throw new IllegalArgumentException("lengthBytes must be positive: " + lengthBytes);
        }
    }

    /** The same status seen one level further down a backing chain, for another length. */
    public BlockStatus withDepthAndLength(int newDepth, long newLength) {
        return new BlockStatus(newLength, newDepth, present, zero, data, compressed, hostOffset, file);
    }

    public BlockStatus withLength(long newLength) {
        return new BlockStatus(newLength, depth, present, zero, data, compressed, hostOffset, file);
    }

    /** True when two runs may be merged into one map entry (same status, contiguous host data). */
    public boolean continues(BlockStatus previous) {
        if (previous.depth != depth || previous.present != present || previous.zero != zero
                || previous.data != data || previous.compressed != compressed
                || !java.util.Objects.equals(previous.file, file)) {
            return false;
        }
        if (hostOffset < 0 || previous.hostOffset < 0) {
            return hostOffset < 0 && previous.hostOffset < 0;
        }
        return previous.hostOffset + previous.lengthBytes == hostOffset;
    }
}
