package org.vmsnap.qcow2.format;

/**
 * Every bound the engine enforces on header-derived numbers, each with its unit and why.
 * A value past a limit is a corrupt (or unsupported) image, never a huge allocation.
 */
public final class Limits {
    private Limits() {
    }

    /** Smallest cluster: one 512-byte sector (the spec's minimum, cluster_bits 9). */
    public static final int MIN_CLUSTER_BITS = 9;
    /** Largest cluster: 2 MiB (cluster_bits 21), QEMU's maximum. */
    public static final int MAX_CLUSTER_BITS = 21;

    /** Extended L2 entries split each standard cluster into this many subclusters (qcow2 spec). */
    public static final int SUBCLUSTERS_PER_CLUSTER = 32;
    /**
     * Smallest cluster with extended L2 entries: 16 KiB (cluster_bits 14), so that a
     * subcluster is at least one 512-byte sector (QEMU refuses smaller ones).
     */
    public static final int MIN_EXTENDED_L2_CLUSTER_BITS = MIN_CLUSTER_BITS + 5;

    /** QEMU's QCOW_MAX_L1_SIZE: the L1 table is held in memory, 32 MiB at most. */
    public static final long MAX_L1_TABLE_BYTES = 32L * 1024 * 1024;
    /** QEMU's QCOW_MAX_REFTABLE_SIZE: 8 MiB of refcount table entries. */
    public static final long MAX_REFCOUNT_TABLE_BYTES = 8L * 1024 * 1024;
    /** QEMU's QCOW_MAX_SNAPSHOTS. */
    public static final int MAX_SNAPSHOTS = 65536;
    /** QEMU's QCOW_MAX_SNAPSHOTS_SIZE: the whole snapshot table, 64 MiB. */
    public static final long MAX_SNAPSHOT_TABLE_BYTES = 64L * 1024 * 1024;
    /** QEMU's QCOW_MAX_SNAPSHOT_EXTRA_DATA: 1 KiB of extra data per snapshot entry. */
    public static final int MAX_SNAPSHOT_EXTRA_DATA_BYTES = 1024;
    /** Backing file names longer than this are refused (QEMU: 1023 bytes). */
    public static final int MAX_BACKING_FILE_NAME_BYTES = 1023;
    /** Host offsets are 56-bit in L1/L2 entries (bits 9..55); nothing may lie beyond. */
    public static final long MAX_HOST_OFFSET = (1L << 56) - 1;
    /** QEMU's limit on the virtual size (QCOW_MAX... 2^63 less alignment): we stay below 2^62. */
    public static final long MAX_VIRTUAL_SIZE_BYTES = 1L << 62;
    /** Version 2 headers are 72 bytes, version 3 at least 104. */
    public static final int V2_HEADER_BYTES = 72;
    public static final int V3_MIN_HEADER_BYTES = 104;
    /** Our own header_length with the compression type field (and padding to 8). */
    public static final int V3_HEADER_BYTES = 112;
    /** Backing chains deeper than this are refused (a cycle guard and a resource bound). */
    public static final int MAX_BACKING_CHAIN_DEPTH = 1000;
}
