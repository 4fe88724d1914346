package org.vmsnap.qcow2.format;

/**
 * Sizes derived from cluster_bits and refcount_order: one place for the shifts, so no
 * caller re-derives them.
 *
 * @param clusterBits   log2 of the cluster size (9..21)
 * @param refcountOrder log2 of the refcount width in bits (0..6)
 */
public record Geometry(int clusterBits, int refcountOrder) {

    public Geometry {
        if (clusterBits < Limits.MIN_CLUSTER_BITS || clusterBits > Limits.MAX_CLUSTER_BITS) {
            throw new IllegalArgumentException("cluster_bits " + clusterBits + " outside "
                    + Limits.MIN_CLUSTER_BITS + ".." + Limits.MAX_CLUSTER_BITS);
        }
        if (refcountOrder < 0 || refcountOrder > 6) {
            throw new IllegalArgumentException("refcount_order " + refcountOrder + " outside 0..6");
        }
    }

    public int clusterSize() {
        return 1 << clusterBits;
    }

    /** L2 entries per L2 table (a table is one cluster of 8-byte entries). */
    public int l2Entries() {
        return 1 << (clusterBits - 3);
    }

    /** log2 of the guest bytes one L2 table maps. */
    public int l2CoverageBits() {
        return clusterBits + clusterBits - 3;
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
