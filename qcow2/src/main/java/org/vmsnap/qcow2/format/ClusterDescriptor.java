package org.vmsnap.qcow2.format;

/**
 * A decoded L2 entry: where a guest cluster's bytes come from. Raw 64-bit entries become
 * one of these cases before any code acts on them.
 *
 * <p>Standard L2 entry layout (qcow2 spec): bit 0 reads-as-zero (v3), bits 1-8 reserved,
 * bits 9-55 host offset, bits 56-61 reserved, bit 62 compressed, bit 63 COPIED.
 * Compressed entries: bits 0..x-1 host byte offset, bits x..61 additional 512-byte
 * sectors, x = 62 - (cluster_bits - 8).
 *
 * <p>Extended L2 entries ({@link #decodeExtended}) add a 64-bit subcluster bitmap: bits 0-31
 * "allocated", bits 32-63 "reads as zeros", one of each per subcluster (32 per cluster);
 * bit 0 of the standard entry has no meaning there. A standard cluster of such an image is
 * {@link Subclustered}; compressed clusters have no subclusters.
 */
public sealed interface ClusterDescriptor {

    long COPIED = 1L << 63;
    long COMPRESSED = 1L << 62;
    long ZERO = 1L;
    long OFFSET_MASK = 0x00ff_ffff_ffff_fe00L;
    /** Bits 1-8 and 56-61 of a standard entry. */
    long RESERVED_MASK = 0x3f00_0000_0000_01feL;

    /** Reads from the backing file, or as zeros without one. */
    record Unallocated() implements ClusterDescriptor {
    }

    /** Reads as zeros; {@code hostOffset} is a preallocated cluster or 0. */
    record Zero(long hostOffset, boolean copied) implements ClusterDescriptor {
    }

    /** Plain data at {@code hostOffset} (cluster aligned). */
    record Normal(long hostOffset, boolean copied) implements ClusterDescriptor {
    }

    /**
     * Compressed data starting at byte {@code hostOffset}, at most {@code maxBytes} long
     * (the sector count rounds it up; the stream may be followed by padding).
     */
    record Compressed(long hostOffset, int maxBytes) implements ClusterDescriptor {
        /** First host cluster index this fragment touches. */
        public long firstCluster(Geometry g) {
            return hostOffset >>> g.clusterBits();
        }

        /** Last host cluster index this fragment touches. */
        public long lastCluster(Geometry g) {
            return (hostOffset + maxBytes - 1) >>> g.clusterBits();
        }
    }

    /**
     * An extended L2 entry of a standard cluster: each of its 32 subclusters is allocated
     * (data at {@code hostOffset} plus the subcluster's offset), reads as zeros, or is
     * unallocated (reads from the backing file, or zeros without one). {@code hostOffset}
     * is 0 when no host cluster is allocated (then no subcluster is allocated).
     *
     * @param allocatedBits bitmap bits 0-31, bit i for subcluster i
     * @param zeroBits      bitmap bits 32-63, bit i for subcluster i; never overlaps allocatedBits
     */
    record Subclustered(long hostOffset, boolean copied, int allocatedBits, int zeroBits) implements ClusterDescriptor {

        /** What one subcluster holds. */
        public enum State { ALLOCATED, ZERO, UNALLOCATED }

        public State state(int index) {
            int bit = 1 << index;
            return (allocatedBits & bit) != 0 ? State.ALLOCATED : (zeroBits & bit) != 0 ? State.ZERO : State.UNALLOCATED;
        }

        /** Subclusters from {@code index} on (at most to the end of the cluster) in the state of {@code index}. */
        public int sameStateFrom(int index) {
            int bits = switch (state(index)) {
                case ALLOCATED -> allocatedBits;
                case ZERO -> zeroBits;
                case UNALLOCATED -> ~(allocatedBits | zeroBits);
            };
            // Ones from index up: the first zero above index ends the run.
            int ones = Integer.numberOfTrailingZeros(~(bits >>> index));
            return Math.min(ones, Limits.SUBCLUSTERS_PER_CLUSTER - index);
        }
    }

    /** An entry that breaks the spec (reserved bits, misaligned offset). */
    record Invalid(long raw, String reason) implements ClusterDescriptor {
    }

    Unallocated UNALLOCATED = new Unallocated();

    /**
     * Decodes a raw L2 entry. {@code version} decides whether bit 0 means zero (v3) or is
     * reserved (v2, where QEMU ignores it).
     */
    static ClusterDescriptor decode(long raw, Geometry g, int version) {
        if ((raw & COMPRESSED) != 0) {
            if ((raw & COPIED) != 0) {
                return new Invalid(raw, "compressed entry with the COPIED flag set");
            }
            int offsetBits = g.compressedOffsetBits();
            long hostOffset = raw & ((1L << offsetBits) - 1);
            long extraSectors = (raw & ~COMPRESSED) >>> offsetBits;
            // Sector count includes the partial first sector: QEMU's formula.
            long maxBytes = (extraSectors + 1) * 512 - (hostOffset & 511);
            if (maxBytes <= 0 || maxBytes > 2L * g.clusterSize() + 512) {
                return new Invalid(raw, "compressed size " + maxBytes + " bytes out of range");
            }
            return new Compressed(hostOffset, (int) maxBytes);
        }
        if ((raw & RESERVED_MASK) != 0) {
            return new Invalid(raw, "reserved bits set");
        }
        boolean copied = (raw & COPIED) != 0;
        long hostOffset = raw & OFFSET_MASK;
        if (hostOffset != 0 && !g.isClusterAligned(hostOffset)) {
            return new Invalid(raw, "host offset 0x" + Long.toHexString(hostOffset) + " is not cluster aligned");
        }
        if (version >= 3 && (raw & ZERO) != 0) {
            return new Zero(hostOffset, copied);
        }
        if (hostOffset == 0) {
            return copied ? new Invalid(raw, "COPIED flag on an unallocated entry") : UNALLOCATED;
        }
        return new Normal(hostOffset, copied);
    }

    /** Bits 0-31 of the subcluster bitmap: "allocated". */
    long SUBCLUSTER_ALLOCATED_MASK = 0xffff_ffffL;

    /**
     * Decodes an extended L2 entry: the standard entry {@code raw} and its subcluster
     * {@code bitmap}. QEMU's rules (qcow2_get_subcluster_type): a subcluster may not be both
     * allocated and zero; an unallocated cluster has no allocated subclusters; a compressed
     * cluster has no bitmap (QEMU reads one anyway, but its check reports it as corrupt and
     * its writes refuse it, so vmsnap does not guess what such a cluster means).
     */
    static ClusterDescriptor decodeExtended(long raw, long bitmap, Geometry g) {
        if ((raw & COMPRESSED) != 0) {
            if (bitmap != 0) {
                return new Invalid(raw, "compressed cluster with a non-zero subcluster bitmap");
            }
            return decode(raw, g, 3);
        }
        // Bit 0 (the standard "reads as zeros" flag) means nothing with extended entries; QEMU
        // ignores it and its check does not report it, so it is ignored here as well.
        ClusterDescriptor d = decode(raw & ~ZERO, g, 3);
        int allocated = (int) bitmap;
        int zero = (int) (bitmap >>> 32);
        return switch (d) {
            case Invalid inv -> new Invalid(raw, inv.reason());
            case Unallocated u when allocated != 0 -> new Invalid(raw, "unallocated cluster with allocated subclusters");
            case Unallocated u -> zero == 0 ? UNALLOCATED : new Subclustered(0, false, 0, zero);
            case Normal n when (allocated & zero) != 0 -> new Invalid(raw, "subclusters both allocated and reading"
                    + " as zeros");
            case Normal n -> new Subclustered(n.hostOffset(), n.copied(), allocated, zero);
            case Zero z -> throw new IllegalStateException("bit 0 was cleared");
            case Compressed c -> throw new IllegalStateException("not compressed");
            case Subclustered s -> throw new IllegalStateException("standard decode");
        };
    }

    /** Encodes a case back into a raw entry. */
    static long encode(ClusterDescriptor d, Geometry g) {
        return switch (d) {
            case Unallocated u -> 0L;
            case Zero z -> z.hostOffset() | ZERO | (z.copied() ? COPIED : 0);
            case Normal n -> n.hostOffset() | (n.copied() ? COPIED : 0);
            case Compressed c -> {
                long extraSectors = ((c.hostOffset() + c.maxBytes() - 1) >>> 9) - (c.hostOffset() >>> 9);
                yield COMPRESSED | (extraSectors << g.compressedOffsetBits()) | c.hostOffset();
            }
            case Invalid i -> i.raw();
            // vmsnap does not write images with extended L2 entries.
            case Subclustered s -> throw new IllegalStateException("extended L2 entries are read-only");
        };
    }

    /** A compressed entry for {@code lengthBytes} bytes of compressed data at {@code hostOffset}. */
    static Compressed compressed(long hostOffset, int lengthBytes) {
        long extraSectors = ((hostOffset + lengthBytes - 1) >>> 9) - (hostOffset >>> 9);
        return new Compressed(hostOffset, (int) ((extraSectors + 1) * 512 - (hostOffset & 511)));
    }
}
