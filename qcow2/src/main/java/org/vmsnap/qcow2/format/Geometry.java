package org.vmsnap.qcow2.format;

/**
 * Sizes derived from cluster_bits, refcount_order and the L2 entry width: one place for
 * the shifts, so no caller re-derives them.
 *
 * @param clusterBits   log2 of the cluster size (9..21)
 * @param refcountOrder log2 of the refcount width in bits (0..6)
 * @param extendedL2    L2 entries are 128 bits: a standard entry and a subcluster bitmap
 *                      (incompatible feature bit 4)
 */
public record Geometry(int clusterBits, int refcountOrder, boolean extendedL2) {

    public Geometry {
        if (clusterBits < Limits.MIN_CLUSTER_BITS || clusterBits > Limits.MAX_CLUSTER_BITS) {
            throw new IllegalArgumentException("cluster_bits " + clusterBits + " outside "
                    + Limits.MIN_CLUSTER_BITS + ".." + Limits.MAX_CLUSTER_BITS);
        }
        if (refcountOrder < 0 || refcountOrder > 6) {
            throw new IllegalArgumentException("refcount_order " + refcountOrder + " outside 0..6");
        }
        if (extendedL2 && clusterBits < Limits.MIN_EXTENDED_L2_CLUSTER_BITS) {
            throw new IllegalArgumentException("extended L2 entries need cluster_bits of at least "
                    + Limits.MIN_EXTENDED_L2_CLUSTER_BITS + ", not " + clusterBits);
        }
    }

    /** Standard (64-bit) L2 entries. */
    public Geometry(int clusterBits, int refcountOrder) {
        this(clusterBits, refcountOrder, false);
    }

    public int clusterSize() {
        return 1 << clusterBits;
    }

    /** Bytes of one L2 entry: 8, or 16 with extended L2 entries. */
    public int l2EntryBytes() {
        return extendedL2 ? 16 : 8;
    }

    /** L2 entries per L2 table (a table is one cluster of entries). */
    public int l2Entries() {
        return 1 << (clusterBits - l2EntryBits());
    }

    /** 64-bit words in one L2 table (a cluster), whatever the entry width. */
    public int l2TableWords() {
        return 1 << (clusterBits - 3);
    }

    /** log2 of the guest bytes one L2 table maps. */
    public int l2CoverageBits() {
        return clusterBits + clusterBits - l2EntryBits();
    }

    private int l2EntryBits() {
        return extendedL2 ? 4 : 3;
    }

    /** log2 of the subcluster size: a cluster has 32 subclusters with extended L2 entries, else one. */
    public int subclusterBits() {
        return extendedL2 ? clusterBits - Integer.numberOfTrailingZeros(Limits.SUBCLUSTERS_PER_CLUSTER) : clusterBits;
    }

    public int subclusterSize() {
        return 1 << subclusterBits();
    }

    /** Index of the subcluster that holds {@code offset} within its cluster (0 without subclusters). */
    public int subclusterIndex(long offset) {
        return offsetInCluster(offset) >>> subclusterBits();
    }

    public int refcountBits() {
        return 1 << refcountOrder;
    }

    /** Largest refcount a refcount entry can hold. */
    public long maxRefcount() {
        return refcountOrder == 6 ? Long.MAX_VALUE : (1L << refcountBits()) - 1;
    }

    /** Refcount entries per refcount block (a block is one cluster). */
    public int refcountBlockEntries() {
        return (clusterSize() * 8) >>> refcountOrder;
    }

    public long clusterIndex(long offset) {
        return offset >>> clusterBits;
    }

    public long clusterStart(long offset) {
        return offset & ~((long) clusterSize() - 1);
    }

    public int offsetInCluster(long offset) {
        return (int) (offset & (clusterSize() - 1));
    }

    public boolean isClusterAligned(long offset) {
        return offsetInCluster(offset) == 0;
    }

    public long clusterOffset(long clusterIndex) {
        return Math.multiplyExact(clusterIndex, (long) clusterSize());
    }

    public int l1Index(long guestOffset) {
        return Math.toIntExact(guestOffset >>> l2CoverageBits());
    }

    public int l2Index(long guestOffset) {
        return (int) ((guestOffset >>> clusterBits) & (l2Entries() - 1));
    }

    /** L1 entries needed to map a disk of {@code sizeBytes}. */
    public long l1EntriesFor(long sizeBytes) {
        long coverage = 1L << l2CoverageBits();
        return Math.ceilDiv(sizeBytes, coverage);
    }

    /** Clusters needed to hold {@code bytes}. */
    public long clustersFor(long bytes) {
        return Math.ceilDiv(bytes, (long) clusterSize());
    }

    /** Bits of host offset in a compressed cluster descriptor: 62 - (cluster_bits - 8). */
    public int compressedOffsetBits() {
        return 62 - (clusterBits - 8);
    }
}
