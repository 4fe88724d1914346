package org.vmsnap.qcow2.engine;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.vmsnap.qcow2.CheckResult;
import org.vmsnap.qcow2.CorruptImageException;
import org.vmsnap.qcow2.ImageException;
import org.vmsnap.qcow2.RepairMode;
import org.vmsnap.qcow2.format.ClusterDescriptor;
import org.vmsnap.qcow2.format.L1Entry;
import org.vmsnap.qcow2.io.BlockStore;

/**
 * {@code qemu-img check} for qcow2: recounts every reference the metadata makes to a host
 * cluster, compares the counts with the stored refcounts, checks the COPIED flags, and
 * optionally repairs, with QEMU 7.2's findings, counts, messages and repair decisions.
 *
 * <p>The steps follow QEMU's {@code qcow2_check_refcounts}: count references
 * ({@link ReferenceWalker}), compare with the stored refcounts ({@link StoredRefcounts}),
 * repair or rebuild the refcount structure, then check OFLAG_COPIED. Like qemu-img, a repair
 * that fixed anything is followed by a second, read-only pass whose findings are the result.
 */
public final class ImageChecker {

    private ImageChecker() {
    }

    /**
     * Checks (and with {@code mode} other than NONE, repairs) the image in {@code store}.
     *
     * @param store the image, open read-write when {@code mode} is not NONE
     * @param mode  what to repair
     * @return the findings; after a repair, those of the re-check plus what was fixed
     * @throws ImageException when the header or a structure the check relies on cannot be
     *                        decoded at all (qemu-img: "could not check")
     */
    public static CheckResult check(BlockStore store, RepairMode mode) throws IOException {
        Objects.requireNonNull(store, "store");
        Objects.requireNonNull(mode, "mode");
        if (mode != RepairMode.NONE && store.isReadOnly()) {
            throw new IllegalArgumentException("repairing " + store.path() + " needs a store open for writing");
        }
        if (mode != RepairMode.NONE) {
            // A repair writes: refused, before anything is written, for features vmsnap only reads.
            CheckPass.open(store, mode, new Messages()).header.checkWritable(store.path());
        }
        Messages messages = new Messages();
        Tally first = runPass(store, mode, messages);
        if (mode == RepairMode.NONE || first.failed || (first.corruptionsFixed == 0 && first.leaksFixed == 0)) {
            return first.toResult(messages);
        }
        // qemu-img reports what it repaired, then checks the repaired image again and reports
        // that second check's findings: what is left, not what was there.
        Tally second = runPass(store, RepairMode.NONE, messages);
        second.corruptionsFixed = first.corruptionsFixed;
        second.leaksFixed = first.leaksFixed;
        if (second.checkErrors == 0 && second.corruptions == 0) {
            // The repair pass may have ended with errors it then repaired (a rebuild after
            // unreadable refcounts); the repaired image is consistent, so say so in the header,
            // where QEMU would leave it marked corrupt until a further check -r.
            CheckPass.open(store, mode, new Messages()).markClean();
        }
        return second.toResult(messages);
    }

    /**
     * The read-only check a read-write open makes: the findings, and how many of the
     * corruptions are COPIED flags that only a leak or a missing flag explains (a write then
     * copies a cluster it could have changed in place, or changes in place a cluster nothing
     * else uses), which writing can live with.
     */
    static WriteCheck checkBeforeWriting(BlockStore store) throws IOException {
        Messages messages = new Messages();
        Tally t = runPass(store, RepairMode.NONE, messages);
        return new WriteCheck(t.toResult(messages), t.harmlessCopiedFlags, List.copyOf(t.underCounted));
    }

    /** What {@link #checkBeforeWriting} found. */
    record WriteCheck(CheckResult result, long harmlessCorruptions, List<Long> underCounted) {
    }

    private static Tally runPass(BlockStore store, RepairMode mode, Messages messages) throws IOException {
        CheckPass p = CheckPass.open(store, mode, messages);
        Tally res = new Tally();
        try {
            try {
                SnapshotTableReader.readForCheck(p, res);
                new ImageChecker.RefcountCheck(p).run(res);
            } catch (ArithmeticException e) {
                // Checked arithmetic overflowed on a header-derived number: the metadata is
                // inconsistent beyond anything the check can count.
                throw new CorruptImageException(p.path, "metadata", -1, "numbers overflow: " + e.getMessage(), e);
            }
        } catch (CheckFailed e) {
            // QEMU returns an error code here: the counts so far stand, and the check failed.
            res.checkErrors = Math.max(res.checkErrors, 1);
            res.failed = true;
            return res;
        }
        if (mode != RepairMode.NONE && res.checkErrors == 0 && res.corruptions == 0) {
            p.markClean();
        }
        return res;
    }

    // ---- qcow2_check_refcounts ----------------------------------------------------------

    /** One run of the refcount check over a pass's image. */
    private static final class RefcountCheck {
        private final CheckPass p;
        private final StoredRefcounts stored;
        private boolean rebuild;

        RefcountCheck(CheckPass p) throws IOException {
            this.p = p;
            this.stored = new StoredRefcounts(p);
            p.stored = stored;
            p.layoutChanged();
        }

        void run(Tally res) throws IOException, CheckFailed {
            long nbClusters = p.geometry.clustersFor(p.fileSize);
            // Two clusters of room: references may end up to a cluster past the end of the file.
            if (nbClusters > ReferenceCounter.MAX_CLUSTERS - 2) {
                res.checkErrors++;
                p.messages.add("ERROR image file has " + nbClusters + " clusters, more than "
                        + ReferenceCounter.MAX_CLUSTERS + ": File too large");
                throw new CheckFailed();
            }
            long needed = ReferenceCounter.estimatedBytes(nbClusters);
            Runtime rt = Runtime.getRuntime();
            if (needed > rt.maxMemory() - (rt.totalMemory() - rt.freeMemory())) {
                res.checkErrors++;
                p.messages.add("ERROR no memory for " + nbClusters + " cluster counters: Cannot allocate memory");
                throw new CheckFailed();
            }
            // bs->total_sectors is the virtual size in whole 512-byte sectors.
            res.totalClusters = p.geometry.clustersFor((p.header.size() / 512) * 512);

            ReferenceCounter imrt = new ReferenceCounter(nbClusters, p.geometry.maxRefcount());
            rebuild = ReferenceWalker.calculate(p, res, p.mode, imrt);

            // Count first without repairing; a repair without a rebuild re-runs the comparison.
            Tally preCompare = res.copy();
            long highest = compare(res, RepairMode.NONE, imrt);

            if (rebuild && p.mode == RepairMode.ALL) {
                Tally old = res.copy();
                p.messages.add("Rebuilding refcount structure");
                stored.rebuild(res, imrt);
                res.corruptions = 0;
                res.leaks = 0;
                // The old refcount structure is gone: count everything again against the new one.
                imrt.clear();
                rebuild = ReferenceWalker.calculate(p, res, RepairMode.NONE, imrt);
                // The old refcount table and blocks are now leaked; free them. This comparison's
                // counts are not the check's: only leaks it cannot fix are reported (they would
                // come from the rebuild itself).
                Tally fresh = new Tally();
                highest = compare(fresh, RepairMode.LEAKS, imrt);
                if (rebuild) {
                    p.messages.add("ERROR rebuilt refcount structure is still broken");
                }
                if (res.corruptions < old.corruptions) {
                    res.corruptionsFixed += old.corruptions - res.corruptions;
                }
                if (res.leaks < old.leaks) {
                    res.leaksFixed += old.leaks - res.leaks;
                }
                res.leaks += fresh.leaks;
            } else if (p.mode != RepairMode.NONE) {
                if (rebuild) {
                    p.messages.add("ERROR need to rebuild refcount structures");
                    res.checkErrors++;
                    throw new CheckFailed();
                }
                if (res.leaks != 0 || res.corruptions != 0) {
                    res.set(preCompare);
                    highest = compare(res, p.mode, imrt);
                }
            }
            stored.punchFreedClusters();
            if (p.mode != RepairMode.NONE) {
                // The COPIED repairs below trust the refcounts: those must be on disk first.
                p.store.flush();
            }

            checkOflagCopied(res, imrt);
            res.imageEndOffsetBytes = Math.multiplyExact(highest + 1, (long) p.geometry.clusterSize());
        }

        /**
         * Compares the stored refcount of every cluster with the counted references
         * (QEMU's compare_refcounts); repairs what {@code fix} allows.
         *
         * @return the highest cluster index that is referenced or has a refcount
         */
        private long compare(Tally res, RepairMode fix, ReferenceCounter imrt) throws IOException {
            long highest = 0;
            long n = imrt.size();
            for (long i = 0; i < n; i++) {
                long refcount = stored.get(i);
                if (refcount < 0) {
                    p.messages.add("Can't get refcount for cluster " + i + ": Input/output error");
                    res.checkErrors++;
                    continue;
                }
                long reference = imrt.get(i);
                if (refcount > 0 || reference > 0) {
                    highest = i;
                }
                if (refcount == reference) {
                    continue;
                }
                boolean leak = refcount > reference;
                boolean repair = false;
                if (refcount == 0) {
                    // A used cluster without any refcount: only a rebuild can be trusted to fix this.
                    rebuild = true;
                } else if (leak && fix != RepairMode.NONE) {
                    repair = true;
                } else if (!leak && fix == RepairMode.ALL) {
                    repair = true;
                }
                p.messages.add((repair ? "Repairing" : leak ? "Leaked" : "ERROR") + " cluster " + i
                        + " refcount=" + Long.toUnsignedString(refcount) + " reference=" + reference);
                if (repair) {
                    stored.set(i, reference);
                    if (leak) {
                        res.leaksFixed++;
                    } else {
                        res.corruptionsFixed++;
                    }
                    continue;
                }
                if (leak) {
                    res.leaks++;
                } else {
                    res.corruptions++;
                    if (res.underCounted.size() < Tally.UNDER_COUNTED_KEPT) {
                        res.underCounted.add(i);
                    }
                }
            }
            return highest;
        }

        /**
         * Checks that COPIED is set exactly on the active L1 and L2 entries whose cluster has
         * refcount 1 (QEMU's check_oflag_copied), with the refcounts as stored after repairs.
         */
        private void checkOflagCopied(Tally res, ReferenceCounter imrt) throws IOException, CheckFailed {
            boolean repair = switch (p.mode) {
                case ALL -> true;
                // Only when the refcounts are now known to be right.
                case LEAKS -> res.checkErrors == 0 && res.corruptions == 0 && res.leaks == 0;
                case NONE -> false;
            };
            long[] l1 = p.activeL1();
            int l2Entries = p.geometry.l2Entries();
            // Extended L2 entries: the standard entry, then its subcluster bitmap.
            int stride = p.geometry.l2EntryBytes() / 8;
            int bits = p.geometry.clusterBits();
            // An L2 table named by several L1 entries gives the same findings each time; read it once.
            Map<Long, List<String>> seen = new HashMap<>();
            for (int i = 0; i < l1.length; i++) {
                long l1Entry = l1[i];
                long l2Offset = l1Entry & L1Entry.OFFSET_MASK;
                if (l2Offset == 0) {
                    continue;
                }
                long refcount = stored.get(l2Offset >>> bits);
                if (refcount >= 0 && (refcount == 1) != ((l1Entry & L1Entry.COPIED) != 0)) {
                    res.corruptions++;
                    countHarmless(res, imrt, l2Offset >>> bits, (l1Entry & L1Entry.COPIED) != 0, refcount);
                    p.messages.add((repair ? "Repairing" : "ERROR") + " OFLAG_COPIED L2 cluster: l1_index=" + i
                            + " l1_entry=" + Long.toHexString(l1Entry) + " refcount=" + Long.toUnsignedString(refcount));
                    if (repair) {
                        long fixed = refcount == 1 ? l1Entry | L1Entry.COPIED : l1Entry & ~L1Entry.COPIED;
                        long at = p.header.l1TableOffset() + 8L * i;
                        if (!p.guardMetadataWrite(at, 8, OverlapGuard.Kind.L1_TABLE)) {
                            res.checkErrors++;
                            throw new CheckFailed();
                        }
                        p.writeLong(at, fixed);
                        p.store.flush();
                        l1[i] = fixed;
                        res.corruptions--;
                        res.corruptionsFixed++;
                    }
                }
                List<String> earlier = seen.get(l2Offset);
                if (earlier != null) {
                    if (!repair) {
                        res.corruptions += earlier.size();
                        earlier.forEach(p.messages::add);
                    }
                    continue;
                }
                List<String> found = new ArrayList<>();
                seen.put(l2Offset, found);
                if (l2Offset >= p.fileSize) {
                    continue; // reads as zeros: no allocated entries
                }
                long[] l2 = p.readL2(l2Offset);
                List<Integer> dirty = new ArrayList<>();
                for (int j = 0; j < l2Entries; j++) {
                    long e = l2[stride * j];
                    ReferenceWalker.Kind kind = ReferenceWalker.kind(e, p.geometry.extendedL2());
                    if (kind != ReferenceWalker.Kind.NORMAL && kind != ReferenceWalker.Kind.ZERO_ALLOC) {
                        continue;
                    }
                    long dataOffset = e & ClusterDescriptor.OFFSET_MASK;
                    long rc = stored.get(dataOffset >>> bits);
                    if (rc < 0) {
                        continue;
                    }
                    if ((rc == 1) != ((e & ClusterDescriptor.COPIED) != 0)) {
                        res.corruptions++;
                        countHarmless(res, imrt, dataOffset >>> bits, (e & ClusterDescriptor.COPIED) != 0, rc);
                        String msg = (repair ? "Repairing" : "ERROR") + " OFLAG_COPIED data cluster: l2_entry="
                                + Long.toHexString(e) + " refcount=" + Long.toUnsignedString(rc);
                        p.messages.add(msg);
                        found.add(msg);
                        if (repair) {
                            l2[stride * j] = rc == 1 ? e | ClusterDescriptor.COPIED : e & ~ClusterDescriptor.COPIED;
                            dirty.add(stride * j);
                        }
                    }
                }
                if (!dirty.isEmpty()) {
                    if (!p.guardMetadataWrite(l2Offset, p.geometry.clusterSize(), OverlapGuard.Kind.L2_TABLE)) {
                        p.messages.add("ERROR: Could not write L2 table; metadata overlap check failed: Input/output error");
                        res.checkErrors++;
                        throw new CheckFailed();
                    }
                    for (int word : dirty) {
                        p.writeLong(l2Offset + 8L * word, l2[word]);
                    }
                    res.corruptions -= dirty.size();
                    res.corruptionsFixed += dirty.size();
                }
            }
            if (repair) {
                p.store.flush();
            }
        }
    }

    /**
     * A COPIED flag that disagrees with the refcount is harmless to write through when the
     * flag is clear (a write copies the cluster first) or when it is set on a cluster that
     * only this entry uses and whose refcount is merely too high (a leak). Set on a cluster
     * that something else uses too, an in-place write would change that other user's data.
     */
    private static void countHarmless(Tally res, ReferenceCounter imrt, long cluster, boolean copied, long refcount) {
        if (!copied || refcount > 1 && cluster < imrt.size() && imrt.get(cluster) <= 1) {
            res.harmlessCopiedFlags++;
        }
    }

    // ---- shared state of one pass -------------------------------------------------------

    /** The image as one pass of the check sees it: header, snapshots, bitmaps, file size. */
    // ---- results --------------------------------------------------------------------------

    /** QEMU's BdrvCheckResult: counters that the steps add to, copy and restore. */
    static final class Tally {
        long corruptions;
        long leaks;
        long checkErrors;
        long corruptionsFixed;
        long leaksFixed;
        long imageEndOffsetBytes;
        long totalClusters;
        long allocatedClusters;
        long fragmentedClusters;
        long compressedClusters;
        /** COPIED mismatches among the corruptions that writing can live with (see countHarmless). */
        long harmlessCopiedFlags;
        /** How many under-counted clusters {@link #underCounted} keeps (enough to name a cause). */
        static final int UNDER_COUNTED_KEPT = 64;
        /** The first clusters in use whose refcount is too low (the allocator would hand them out). */
        final List<Long> underCounted = new ArrayList<>();
        /** The pass stopped early (qemu-img: "Check failed"); not copied by {@link #set}. */
        boolean failed;

        Tally copy() {
            Tally t = new Tally();
            t.set(this);
            return t;
        }

        void set(Tally o) {
            corruptions = o.corruptions;
            leaks = o.leaks;
            checkErrors = o.checkErrors;
            corruptionsFixed = o.corruptionsFixed;
            leaksFixed = o.leaksFixed;
            imageEndOffsetBytes = o.imageEndOffsetBytes;
            totalClusters = o.totalClusters;
            allocatedClusters = o.allocatedClusters;
            fragmentedClusters = o.fragmentedClusters;
            compressedClusters = o.compressedClusters;
            harmlessCopiedFlags = o.harmlessCopiedFlags;
            underCounted.clear();
            underCounted.addAll(o.underCounted);
        }

        CheckResult toResult(Messages messages) {
            return new CheckResult(corruptions, leaks, checkErrors, corruptionsFixed, leaksFixed,
                    imageEndOffsetBytes, totalClusters, allocatedClusters, fragmentedClusters,
                    compressedClusters, messages.lines(), failed);
        }
    }

    /**
     * The lines qemu-img would print, in order. A hostile image can make the same finding
     * repeat billions of times; past {@value #MAX_LINES} lines only a count is kept.
     */
    static final class Messages {
        static final int MAX_LINES = 100_000;
        private final List<String> lines = new ArrayList<>();
        private long suppressed;

        void add(String line) {
            add(line, 1);
        }

        void add(String line, long times) {
            for (long i = 0; i < times; i++) {
                if (lines.size() >= MAX_LINES) {
                    suppressed += times - i;
                    return;
                }
                lines.add(line);
            }
        }

        List<String> lines() {
            if (suppressed == 0) {
                return lines;
            }
            List<String> out = new ArrayList<>(lines);
            out.add("(" + suppressed + " more lines like the ones above not shown)");
            return out;
        }
    }

    /** The pass cannot go on: QEMU's check returns an error code here. */
    static final class CheckFailed extends Exception {
        CheckFailed() {
            super(null, null, false, false);
        }
    }

    /** QEMU's "%#" PRIx64: 0x-prefixed lowercase hex, but a plain "0" for zero. */
    static String hashHex(long v) {
        return v == 0 ? "0" : "0x" + Long.toHexString(v);
    }
}
