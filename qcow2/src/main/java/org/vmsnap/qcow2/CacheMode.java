package org.vmsnap.qcow2;

/**
 * qemu-img's cache modes ({@code -t}/{@code -T}) and what each means for a file vmsnap writes.
 *
 * <p>{@link #WRITEBACK} is vmsnap's default: writes go through the page cache, the engine syncs
 * at its ordering points (refcounts before L2, L2 before L1, ...) and before the command ends.
 * {@link #UNSAFE} skips every sync, as qemu-img's {@code convert} does by default: fast, and a
 * crash or power loss may lose or corrupt what was written. {@link #WRITETHROUGH} and
 * {@link #DIRECTSYNC} sync after every write. {@link #NONE} and {@link #DIRECTSYNC} ask QEMU for
 * O_DIRECT (bypass the page cache); vmsnap does not bypass the page cache (the JDK's
 * {@code ExtendedOpenOption.DIRECT} needs every buffer, offset and length aligned to the
 * device's block size, which the engine's metadata writes are not), so NONE behaves as
 * WRITEBACK and DIRECTSYNC as WRITETHROUGH: the same durability, page cache used.
 * For a file only read ({@code -T}), every mode reads through the page cache.
 */
public enum CacheMode {
    NONE("none"),
    WRITEBACK("writeback"),
    UNSAFE("unsafe"),
    DIRECTSYNC("directsync"),
    WRITETHROUGH("writethrough");

    private final String qemuName;

    CacheMode(String qemuName) {
        this.qemuName = qemuName;
    }

    /** The mode qemu-img calls {@code name}, or null when qemu-img 7.2 knows no such mode. */
    public static CacheMode byQemuName(String name) {
        if ("off".equals(name)) {
            return NONE; // qemu-img 7.2 takes "off" for "none"
        }
        for (CacheMode m : values()) {
            if (m.qemuName.equals(name)) {
                return m;
            }
        }
        return null;
    }

    public String qemuName() {
        return qemuName;
    }

    /** False only for UNSAFE: a flush is a no-op. */
    public boolean flushes() {
        return this != UNSAFE;
    }

    /** Every write is synced before it returns. */
    public boolean syncsEveryWrite() {
        return this == WRITETHROUGH || this == DIRECTSYNC;
    }
}
