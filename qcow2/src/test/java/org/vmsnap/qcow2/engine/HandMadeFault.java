package org.vmsnap.qcow2.engine;

import java.util.function.Supplier;

/**
 * Each finding type of the check as a hand-made image: a clean {@link TinyImage} (two data
 * clusters, guest 0 at host 5 and guest 1 at host 6) with one thing broken.
 */
enum HandMadeFault {
    CLEAN(HandMadeFault::standard),
    RAISED_REFCOUNT(() -> {
        TinyImage i = standard();
        i.refcount(5, 2);
        return i;
    }),
    UNREFERENCED_CLUSTER(() -> {
        TinyImage i = standard();
        i.newCluster(0x11);
        return i;
    }),
    LOWERED_SHARED_REFCOUNT(() -> {
        TinyImage i = shared();
        i.refcount(6, 1);
        return i;
    }),
    ZERO_REFCOUNT(() -> {
        TinyImage i = standard();
        i.refcount(5, 0);
        return i;
    }),
    ZERO_REFCOUNT_OF_L2_TABLE(() -> {
        TinyImage i = standard();
        i.refcount(TinyImage.L2, 0);
        return i;
    }),
    LEAKED_HOLE_BEFORE_ZERO_REFCOUNT(() -> {
        // A leaked cluster in the middle: the rebuild puts its new refcount block there.
        TinyImage i = standard();
        long hole = i.newCluster(0);
        i.data(2, 0xcc);
        i.refcount(hole, 1);
        i.refcount(5, 0);
        return i;
    }),
    CLEARED_COPIED(() -> {
        TinyImage i = standard();
        i.l2(1, i.at(6));
        return i;
    }),
    COPIED_ON_SHARED_L1_ENTRY(() -> {
        TinyImage i = standard();
        i.refcount(TinyImage.L2, 2);
        return i;
    }),
    MISALIGNED_DATA(() -> {
        TinyImage i = standard();
        i.l2(1, (i.at(6) + 512) | TinyImage.COPIED);
        return i;
    }),
    MISALIGNED_PREALLOCATED_ZERO(() -> {
        TinyImage i = standard();
        i.l2(1, (i.at(6) + 512) | 1);
        return i;
    }),
    PREALLOCATED_ZERO(() -> {
        TinyImage i = standard();
        i.l2(1, i.at(6) | TinyImage.COPIED | 1);
        return i;
    }),
    MISALIGNED_L2_TABLE(() -> {
        TinyImage i = standard();
        i.l1(0, (i.at(TinyImage.L2) + 512) | TinyImage.COPIED);
        return i;
    }),
    REFERENCE_PAST_END(() -> {
        TinyImage i = standard();
        i.l2(2, (1L << 40) | TinyImage.COPIED);
        return i;
    }),
    L2_TABLE_PAST_END(() -> {
        TinyImage i = standard();
        i.l1(0, (1L << 30) | TinyImage.COPIED);
        return i;
    }),
    RESERVED_BITS(() -> {
        TinyImage i = standard();
        i.l1(0, i.at(TinyImage.L2) | TinyImage.COPIED | 1);
        i.l2(1, i.at(6) | TinyImage.COPIED | 2);
        return i;
    }),
    COMPRESSED(() -> {
        TinyImage i = standard();
        long host = i.newCluster(0x5a);
        i.l2(2, TinyImage.COMPRESSED | i.at(host));
        i.l2(3, TinyImage.COMPRESSED | (i.at(host) + 512));
        i.refcount(host, 2);
        return i;
    }),
    COMPRESSED_WITH_COPIED(() -> {
        TinyImage i = standard();
        long host = i.newCluster(0x5a);
        i.l2(2, TinyImage.COMPRESSED | TinyImage.COPIED | i.at(host));
        return i;
    }),
    REFCOUNT_OVERFLOW(() -> {
        TinyImage i = TinyImage.create(10, 0, 3);
        long c = i.data(0, 0xaa);
        i.l2(1, i.at(c) | TinyImage.COPIED);
        return i;
    }),
    REFTABLE_RESERVED_BITS(() -> {
        TinyImage i = standard();
        i.put64(i.at(TinyImage.REFTABLE), i.at(TinyImage.REFBLOCK) | 1);
        return i;
    }),
    REFTABLE_MISALIGNED(() -> {
        TinyImage i = standard();
        i.put64(i.at(TinyImage.REFTABLE), i.at(TinyImage.REFBLOCK) + 512);
        return i;
    }),
    REFBLOCK_OUTSIDE(() -> {
        TinyImage i = standard();
        i.put64(i.at(TinyImage.REFTABLE), i.at(32));
        return i;
    }),
    REFBLOCK_ON_DATA(() -> {
        // A refcount table entry naming a data cluster: its refcount is 2 by the counting.
        TinyImage i = standard();
        i.put64(i.at(TinyImage.REFTABLE) + 8, i.at(6));
        return i;
    }),
    L2_TABLE_IS_THE_L1_TABLE(() -> {
        // Repairing COPIED on the L1 entry would write into what is also an active L2 table.
        TinyImage i = standard();
        i.l1(0, i.at(TinyImage.L1) | TinyImage.COPIED);
        return i;
    }),
    L2_TABLE_IS_THE_REFCOUNT_TABLE(() -> {
        // Read as an L2 table, the refcount table names the refcount block as guest data
        // without COPIED: repairing that flag would write into the refcount table.
        TinyImage i = standard();
        i.l1(0, i.at(TinyImage.REFTABLE) | TinyImage.COPIED);
        return i;
    }),
    SNAPSHOT_MISALIGNED_L1(() -> {
        TinyImage i = standard();
        i.snapshot("7", "before upgrade", i.at(3) + 512, 1);
        return i;
    }),
    SNAPSHOT_SHARING_EVERYTHING(HandMadeFault::shared),
    L2_NAMED_MANY_TIMES(() -> {
        TinyImage i = standard();
        int entries = 40_000;
        long l1Clusters = (entries * 8L + i.clusterSize - 1) / i.clusterSize;
        long first = i.newCluster(0);
        for (long k = 1; k < l1Clusters; k++) {
            i.newCluster(0);
        }
        for (int k = 0; k < entries; k++) {
            i.put64(i.at(first) + 8L * k, i.at(TinyImage.L2));
        }
        i.put64(40, i.at(first));
        i.put32(36, entries);
        i.put64(24, (long) entries * 128 * i.clusterSize);
        i.l2(0, i.at(5));
        i.l2(1, i.at(6));
        i.refcount(TinyImage.L1, 0);
        i.refcount(TinyImage.L2, entries);
        i.refcount(5, entries);
        i.refcount(6, entries - 1);
        return i;
    }),
    V2_ZERO_BIT(() -> {
        TinyImage i = TinyImage.create(10, 4, 2);
        long a = i.data(0, 0xaa);
        i.l2(0, i.at(a) | TinyImage.COPIED | 1);
        return i;
    }),
    DIRTY_WITH_LEAK(() -> {
        TinyImage i = standard();
        i.put64(72, 1); // dirty bit: lazy refcounts left work undone
        i.newCluster(0x11);
        return i;
    }),
    CORRUPT_BIT_ONLY(() -> {
        TinyImage i = standard();
        i.put64(72, 2);
        return i;
    });

    private final Supplier<TinyImage> build;

    HandMadeFault(Supplier<TinyImage> build) {
        this.build = build;
    }

    TinyImage image() {
        return build.get();
    }

    static TinyImage standard() {
        TinyImage i = TinyImage.create();
        i.data(0, 0xaa);
        i.data(1, 0xbb);
        return i;
    }

    /** A snapshot whose L1 table names the same L2 table: L2 and data have refcount 2. */
    static TinyImage shared() {
        TinyImage i = standard();
        long snapL1 = i.newCluster(0);
        i.put64(i.at(snapL1), i.at(TinyImage.L2));
        i.l1(0, i.at(TinyImage.L2));
        i.l2(0, i.at(5));
        i.l2(1, i.at(6));
        i.refcount(TinyImage.L2, 2);
        i.refcount(5, 2);
        i.refcount(6, 2);
        i.snapshot("1", "snap", i.at(snapL1), 1);
        return i;
    }
}
