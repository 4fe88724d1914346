package org.vmsnap.qmp.hw;

/**
 * Guest RAM. {@code currentMiB} below {@code maxMiB} is a balloon target: QEMU starts with
 * {@code maxMiB} and the runtime asks the balloon device (which must exist) for the target.
 */
public record Memory(long maxMiB, long currentMiB) {

    public Memory {
        if (maxMiB < 16 || maxMiB > 1 << 20) {
            throw new IllegalArgumentException("memory must be 16 MiB .. 1 TiB, not " + maxMiB + " MiB");
        }
        if (currentMiB < 1 || currentMiB > maxMiB) {
            throw new IllegalArgumentException("current memory must be 1.." + maxMiB + " MiB, not " + currentMiB);
        }
    }

    public static Memory of(long miB) {
        return new Memory(miB, miB);
    }

    public boolean ballooned() {
        return currentMiB < maxMiB;
    }
}
