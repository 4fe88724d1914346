package org.vmsnap.qcow2.engine;

import java.io.IOException;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.vmsnap.qcow2.CorruptImageException;
import org.vmsnap.qcow2.RepairMode;
import org.vmsnap.qcow2.format.ClusterDescriptor;
import org.vmsnap.qcow2.format.Header;
import org.vmsnap.qcow2.format.L1Entry;
import org.vmsnap.qcow2.format.Limits;

/**
 * Counts every reference the image's metadata makes to each host cluster (QEMU's
 * calculate_refcounts): header, active L1 and everything under it, each snapshot's L1 and
 * everything under it, snapshot table, refcount table, bitmaps, refcount blocks; with the
 * same findings on the way (misaligned tables, references past the end of the file,
 * reserved bits, refcount overflow).
 *
 * <p>Raw entries are classified here the way QEMU's check classifies them, not through
 * {@link ClusterDescriptor#decode}: the check must still count the clusters that an entry
 * with reserved bits or a misaligned offset names, because QEMU does.
 *
 * <p>Work stays proportional to the file: an L2 table (or snapshot L1 table) named several
 * times is read once and its references are counted once per name with a multiplier, and
 * metadata that would make the walk read far more table entries than the file holds is
 * refused as corrupt.
 */
final class ReferenceWalker {

    /** QEMU's cluster types for a standard L2 entry. */
    enum Kind { UNALLOCATED, ZERO_PLAIN, ZERO_ALLOC, NORMAL, COMPRESSED }

    /**
     * QEMU's qcow2_get_cluster_type: bit 0 means zero in v2 images too, and nothing with
     * extended L2 entries (whose subclusters say what reads as zeros).
     */
    static Kind kind(long e, boolean extendedL2) {
        if ((e & ClusterDescriptor.COMPRESSED) != 0) {
            return Kind.COMPRESSED;
        }
        boolean hasOffset = (e & ClusterDescriptor.OFFSET_MASK) != 0;
        if ((e & ClusterDescriptor.ZERO) != 0 && !extendedL2) {
            return hasOffset ? Kind.ZERO_ALLOC : Kind.ZERO_PLAIN;
        }
        return hasOffset ? Kind.NORMAL : Kind.UNALLOCATED;
    }

    /** Reserved bits of a refcount table entry (the offset is the rest). */
    static final long REFT_RESERVED_MASK = 0x1ffL;

    /**
     * Table entries the walk may read per byte of file, beyond a fixed allowance: a valid
     * image's tables are distinct clusters of the file, so it reads at most a few entries per
     * 8 bytes; more means tables that overlap over and over, which only a hostile image has.
     */
    private static final long WALK_ENTRIES_PER_FILE_BYTE = 1;
    private static final long WALK_ENTRIES_ALLOWANCE = 1L << 22;

    private final CheckPass p;
    private final ImageChecker.Tally res;
    private final RepairMode fix;
    private final ReferenceCounter imrt;
    private final int clusterBits;
    private final int clusterSize;
    private long fileSize;
    private boolean rebuild;
    private long entriesRead;
    private final long entriesBudget;

    /** L2 tables walked from the active L1 (with allocation statistics) and from snapshots. */
    private final Set<Long> activeWalked = new HashSet<>();
    private final Set<Long> inactiveWalked = new HashSet<>();
    /** Further names of walked L2 tables: offset to the number of walks still owed. */
    private final Map<Long, Long> activeOwed = new LinkedHashMap<>();
    private final Map<Long, Long> inactiveOwed = new LinkedHashMap<>();

    private ReferenceWalker(CheckPass p, ImageChecker.Tally res, RepairMode fix, ReferenceCounter imrt) {
        this.p = p;
        this.res = res;
        this.fix = fix;
        this.imrt = imrt;
        this.clusterBits = p.geometry.clusterBits();
        this.clusterSize = p.geometry.clusterSize();
        this.fileSize = p.fileSize;
        this.entriesBudget = Math.addExact(Math.multiplyExact(WALK_ENTRIES_PER_FILE_BYTE, p.fileSize),
                WALK_ENTRIES_ALLOWANCE);
    }

    /**
     * Counts all references into {@code imrt} and adds the findings to {@code res}.
     *
     * @return whether the refcount structure itself is broken and must be rebuilt
     */
    static boolean calculate(CheckPass p, ImageChecker.Tally res, RepairMode fix, ReferenceCounter imrt)
            throws IOException, ImageChecker.CheckFailed {
        p.refreshFileSize();
        ReferenceWalker w = new ReferenceWalker(p, res, fix, imrt);
        w.run();
        return w.rebuild;
    }

    private void run() throws IOException, ImageChecker.CheckFailed {
        Header h = p.header;
        inc(0, clusterSize, 1); // the header cluster

        walkL1(h.l1TableOffset(), Integer.toUnsignedLong(h.l1Size()), true, 1);
        walkOwed(activeOwed, true);

        // Snapshots may share an L1 table (same offset and size): walk it once, count it per snapshot.
        record L1Ref(long offset, long size) {
        }
        Set<L1Ref> l1Walked = new HashSet<>();
        Map<L1Ref, Long> l1Owed = new LinkedHashMap<>();
        for (SnapshotTableReader.Snapshot sn : p.snapshots) {
            if (!p.geometry.isClusterAligned(sn.l1TableOffset())) {
                p.messages.add("ERROR snapshot " + sn.id() + " (" + sn.name() + ") l1_offset="
                        + ImageChecker.hashHex(sn.l1TableOffset())
                        + ": L1 table is not cluster aligned; snapshot table entry corrupted");
                res.corruptions++;
                continue;
            }
            if (sn.l1Size() > Limits.MAX_L1_TABLE_BYTES / 8) {
                p.messages.add("ERROR snapshot " + sn.id() + " (" + sn.name() + ") l1_size="
                        + ImageChecker.hashHex(sn.l1Size())
                        + ": L1 table is too large; snapshot table entry corrupted");
                res.corruptions++;
                continue;
            }
            L1Ref ref = new L1Ref(sn.l1TableOffset(), sn.l1Size());
            if (l1Walked.add(ref)) {
                walkL1(ref.offset(), ref.size(), false, 1);
            } else {
                l1Owed.merge(ref, 1L, Long::sum);
            }
        }
        for (Map.Entry<L1Ref, Long> e : l1Owed.entrySet()) {
            walkL1(e.getKey().offset(), e.getKey().size(), false, e.getValue());
        }
        walkOwed(inactiveOwed, false);

        inc(h.snapshotsOffset(), p.snapshotsSizeBytes, 1);
        inc(h.refcountTableOffset(), (long) h.refcountTableClusters() * clusterSize, 1);
        new BitmapReferences(p, res, this).count();
        checkRefblocks();
    }

    private void walkOwed(Map<Long, Long> owed, boolean active) throws IOException, ImageChecker.CheckFailed {
        for (Map.Entry<Long, Long> e : owed.entrySet()) {
            walkL2(e.getKey(), active, e.getValue());
        }
        owed.clear();
    }

    /**
     * Adds {@code times} references to each cluster of {@code [offset, offset + size)}
     * (QEMU's qcow2_inc_refcounts_imrt).
     */
    void inc(long offset, long size, long times) {
        if (size <= 0) {
            return;
        }
        // The last cluster of an image may end past the end of the file; a reference that
        // reaches a whole cluster further is an error and is not counted. (A raw 64-bit offset
        // past 2^63 is further than any file, too.)
        if (offset < 0 || offset > Long.MAX_VALUE - size || offset + size - fileSize >= clusterSize) {
            p.messages.add("ERROR: counting reference for region exceeding the end of the file by one cluster or"
                    + " more: offset 0x" + Long.toHexString(offset) + " size 0x" + Long.toHexString(size), times);
            res.corruptions += times;
            return;
        }
        long first = offset >>> clusterBits;
        long last = (offset + size - 1) >>> clusterBits;
        for (long k = first; k <= last; k++) {
            long refused = imrt.add(k, times);
            if (refused > 0) {
                res.corruptions += refused;
                for (long i = 0; i < refused && i < ImageChecker.Messages.MAX_LINES; i++) {
                    p.messages.add("ERROR: overflow cluster offset=0x" + Long.toHexString(k << clusterBits));
                    p.messages.add("Use qemu-img amend to increase the refcount entry width or qemu-img convert to"
                            + " create a clean copy if the image cannot be opened for writing");
                }
            }
        }
    }

    void charge(long entries, String what, long offset) throws CorruptImageException {
        entriesRead += entries;
        if (entriesRead > entriesBudget) {
            throw new CorruptImageException(p.path, what, offset, "metadata tables name each other so often that"
                    + " checking would read more than " + entriesBudget + " table entries from a file of "
                    + fileSize + " bytes; refusing");
        }
    }

    /** Entries of a table at {@code offset} that lie inside the file (the rest read as zeros). */
    long entriesInFile(long offset, long entries) {
        if (offset < 0 || offset >= fileSize) {
            return 0;
        }
        return Math.min(entries, (fileSize - offset + 7) / 8);
    }

    /** QEMU's check_refcounts_l1, {@code times} over. */
    private void walkL1(long l1Offset, long l1Size, boolean active, long times)
            throws IOException, ImageChecker.CheckFailed {
        if (l1Size == 0) {
            return;
        }
        inc(l1Offset, l1Size * 8, times);
        long inFile = entriesInFile(l1Offset, l1Size);
        charge(inFile, active ? "L1 table" : "snapshot L1 table", l1Offset);
        long[] l1 = active ? p.activeL1() : p.readTable(l1Offset, inFile);
        for (int i = 0; i < inFile; i++) {
            long e = l1[i];
            if (e == 0) {
                continue;
            }
            if ((e & L1Entry.RESERVED_MASK) != 0) {
                p.messages.add("ERROR found L1 entry with reserved bits set: " + Long.toHexString(e), times);
                res.corruptions += times;
            }
            long l2Offset = e & L1Entry.OFFSET_MASK;
            inc(l2Offset, clusterSize, times);
            if (!p.geometry.isClusterAligned(l2Offset)) {
                p.messages.add("ERROR l2_offset=" + Long.toHexString(l2Offset)
                        + ": Table is not cluster aligned; L1 entry corrupted", times);
                res.corruptions += times;
            }
            Set<Long> walked = active ? activeWalked : inactiveWalked;
            if (walked.add(l2Offset)) {
                walkL2(l2Offset, active, times);
            } else {
                (active ? activeOwed : inactiveOwed).merge(l2Offset, times, Long::sum);
            }
        }
    }

    /** QEMU's check_refcounts_l2, {@code times} over; allocation statistics for the active L1 only. */
    private void walkL2(long l2Offset, boolean active, long times) throws IOException, ImageChecker.CheckFailed {
        if (l2Offset >= fileSize) {
            return; // reads as zeros: nothing allocated
        }
        int entries = p.geometry.l2Entries();
        boolean extended = p.geometry.extendedL2();
        int words = p.geometry.l2TableWords();
        charge(words, "L2 table", l2Offset);
        long[] l2 = p.readL2(l2Offset);
        long nextContiguous = 0;
        int offsetBits = p.geometry.compressedOffsetBits();
        long compressedOffsetMask = (1L << offsetBits) - 1;
        long sectorsMask = (1L << (clusterBits - 8)) - 1;
        for (int i = 0; i < entries; i++) {
            long e = extended ? l2[2 * i] : l2[i];
            // The subcluster bitmap of an extended entry; standard entries have none.
            long bitmap = extended ? l2[2 * i + 1] : 0;
            Kind kind = kind(e, extended);
            if (kind != Kind.COMPRESSED && (e & ClusterDescriptor.RESERVED_MASK) != 0) {
                p.messages.add("ERROR found l2 entry with reserved bits set: " + Long.toHexString(e), times);
                res.corruptions += times;
            }
            switch (kind) {
                case COMPRESSED -> {
                    if ((e & ClusterDescriptor.COPIED) != 0) {
                        p.messages.add("ERROR: coffset=0x" + Long.toHexString(e & compressedOffsetMask)
                                + ": copied flag must never be set for compressed clusters", times);
                        res.corruptions += times;
                        e &= ~ClusterDescriptor.COPIED;
                    }
                    if (bitmap != 0) {
                        // QEMU neither counts nor references such a cluster: its clusters leak.
                        p.messages.add("ERROR compressed cluster " + i + " with non-zero subcluster allocation"
                                + " bitmap, entry=0x" + Long.toHexString(e), times);
                        res.corruptions += times;
                        continue;
                    }
                    long hostOffset = e & compressedOffsetMask;
                    long sectors = ((e >>> offsetBits) & sectorsMask) + 1;
                    long bytes = sectors * 512 - (hostOffset & 511);
                    inc(hostOffset, bytes, times);
                    if (active) {
                        res.allocatedClusters += times;
                        res.compressedClusters += times;
                        // QEMU counts compressed clusters as fragmented by nature.
                        res.fragmentedClusters += times;
                    }
                }
                case NORMAL, ZERO_ALLOC -> {
                    long offset = e & ClusterDescriptor.OFFSET_MASK;
                    if (((bitmap >>> 32) & bitmap) != 0) {
                        p.messages.add("ERROR offset=" + Long.toHexString(offset)
                                + ": Allocated cluster has corrupted subcluster allocation bitmap", times);
                        res.corruptions += times;
                    }
                    if (!p.geometry.isClusterAligned(offset)) {
                        res.corruptions += times;
                        // Whether the entry holds data: any allocated subcluster, or not a zero cluster.
                        boolean containsData = extended ? (bitmap & ClusterDescriptor.SUBCLUSTER_ALLOCATED_MASK) != 0
                                : kind != Kind.ZERO_ALLOC;
                        if (!containsData) {
                            boolean repair = fix == RepairMode.ALL;
                            p.messages.add((repair ? "Repairing" : "ERROR") + " offset=" + Long.toHexString(offset)
                                    + ": Preallocated cluster is not properly aligned; L2 entry corrupted.",
                                    repair ? 1 : times);
                            if (repair && fixByZero(l2Offset, i, active)) {
                                // Later walks of this table see the repaired (plain zero) entry.
                                res.corruptions -= times;
                                res.corruptionsFixed++;
                                continue;
                            }
                        } else {
                            p.messages.add("ERROR offset=" + Long.toHexString(offset)
                                    + ": Data cluster is not properly aligned; L2 entry corrupted.", times);
                        }
                    }
                    if (active) {
                        res.allocatedClusters += times;
                        if (nextContiguous != 0 && offset != nextContiguous) {
                            res.fragmentedClusters += times;
                        }
                        nextContiguous = offset + clusterSize;
                    }
                    inc(offset, clusterSize, times);
                }
                case UNALLOCATED -> {
                    if ((bitmap & ClusterDescriptor.SUBCLUSTER_ALLOCATED_MASK) != 0) {
                        p.messages.add("ERROR: Unallocated cluster has non-zero subcluster allocation map", times);
                        res.corruptions += times;
                    }
                }
                case ZERO_PLAIN -> {
                }
            }
        }
    }

    /**
     * Makes a misaligned preallocated zero entry a plain zero entry (QEMU's fix_l2_entry_by_zero).
     *
     * @return true when repaired
     */
    private boolean fixByZero(long l2Offset, int index, boolean active) throws IOException, ImageChecker.CheckFailed {
        if (p.geometry.extendedL2()) {
            throw new IllegalStateException("images with extended L2 entries are never repaired");
        }
        long at = l2Offset + 8L * index;
        if (!p.guardMetadataWrite(at, 8, active ? OverlapGuard.Kind.L2_TABLE : null)) {
            p.messages.add("ERROR: Overlap check failed");
            res.checkErrors++;
            throw new ImageChecker.CheckFailed();
        }
        p.writeLong(at, ClusterDescriptor.ZERO);
        p.store.flush();
        return true;
    }

    /**
     * Counts each refcount block and checks the refcount table entries (QEMU's
     * check_refblocks); a block outside the file is brought inside it when repairing.
     */
    private void checkRefblocks() throws IOException, ImageChecker.CheckFailed {
        long[] reftable = p.stored.reftable();
        for (int i = 0; i < reftable.length; i++) {
            long entry = reftable[i];
            long offset = entry & ~REFT_RESERVED_MASK;
            long cluster = offset >>> clusterBits;
            if ((entry & REFT_RESERVED_MASK) != 0) {
                p.messages.add("ERROR refcount table entry " + i + " has reserved bits set");
                res.corruptions++;
                rebuild = true;
                continue;
            }
            if (!p.geometry.isClusterAligned(offset)) {
                p.messages.add("ERROR refcount block " + i + " is not cluster aligned; refcount table entry corrupted");
                res.corruptions++;
                rebuild = true;
                continue;
            }
            if (Long.compareUnsigned(cluster, imrt.size()) >= 0) {
                res.corruptions++;
                boolean repair = fix == RepairMode.ALL;
                p.messages.add((repair ? "Repairing" : "ERROR") + " refcount block " + i + " is outside image");
                if (repair) {
                    String failure = growFileToHold(offset);
                    if (failure == null) {
                        res.corruptions--;
                        res.corruptionsFixed++;
                        inc(offset, clusterSize, 1);
                        continue;
                    }
                    rebuild = true;
                    p.messages.add("ERROR could not resize image: " + failure);
                }
                continue;
            }
            if (offset != 0) {
                inc(offset, clusterSize, 1);
                long count = imrt.get(cluster);
                if (count != 1) {
                    p.messages.add("ERROR refcount block " + i + " refcount=" + count);
                    res.corruptions++;
                    rebuild = true;
                }
            }
        }
    }

    /**
     * How far past its end the repair extends a file to take in a refcount block: a block
     * further out than the file is long (plus this allowance) is a wild pointer, not a file cut
     * short, and growing the file to it would only make a huge sparse file to count.
     */
    static final long MAX_GROWTH_ALLOWANCE_BYTES = 64L << 20;

    /**
     * Extends the file so the refcount block at {@code offset} lies inside it.
     *
     * @return null when done, else the reason (an errno text, as QEMU prints it)
     */
    private String growFileToHold(long offset) throws IOException {
        if (offset < 0 || offset > Long.MAX_VALUE - clusterSize) {
            return "Invalid argument";
        }
        long newSize = offset + clusterSize;
        long limit = fileSize + Math.max(fileSize, MAX_GROWTH_ALLOWANCE_BYTES);
        if (newSize > limit || p.geometry.clustersFor(newSize) > ReferenceCounter.MAX_CLUSTERS - 2) {
            return "File too large";
        }
        p.store.truncate(newSize);
        p.refreshFileSize();
        fileSize = p.fileSize;
        imrt.resize(p.geometry.clustersFor(fileSize));
        if ((offset >>> clusterBits) >= imrt.size()) {
            return "Invalid argument";
        }
        return null;
    }
}
