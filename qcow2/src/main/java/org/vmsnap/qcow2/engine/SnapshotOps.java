package org.vmsnap.qcow2.engine;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.vmsnap.qcow2.CorruptImageException;
import org.vmsnap.qcow2.UnsupportedFeatureException;
import org.vmsnap.qcow2.format.ClusterDescriptor;
import org.vmsnap.qcow2.format.Geometry;
import org.vmsnap.qcow2.format.Header;
import org.vmsnap.qcow2.format.L1Entry;
import org.vmsnap.qcow2.format.Limits;
import org.vmsnap.qcow2.format.SnapshotEntry;

/**
 * Internal snapshots: create, apply and delete, each one {@link HeaderSwitch}.
 *
 * <p>Refcounts follow QEMU's meaning: a data cluster counts one reference per path from an
 * L1 table (active or snapshot) through an L2 table to it, so an L2 table shared by two L1
 * tables counts its data twice. COPIED is set exactly where that count is 1.
 *
 * <p>The active L2 tables are COPIED-checked (by us and by {@code qemu-img check}), so their
 * flags must agree with the refcounts in the old image until the switch and in the new one
 * after it. An active table whose flags would have to change is therefore never rewritten
 * in place: the new active L1 points at a fresh copy with the new flags. A table whose flags
 * are right in the new state is shared as it is (its refcount goes up), as QEMU shares them.
 * After a create, only tables written since the previous snapshot are copied.
 *
 * <p>Ordering: QEMU changes these structures in place and must order its writes (raise the
 * refcounts before anything references the clusters, tables before the header, lower the
 * refcounts last). Here every change goes to new clusters and becomes real with one header
 * write, so those rules hold by construction: the new refcounts (raised for the new
 * references, lowered for the old ones) are on disk with the new tables before the header
 * names any of them, and the old structures are freed in the same switch (see
 * {@link HeaderSwitch}). A crash leaves the old image or the new one, not even a leak.
 *
 * <p>The caller (the engine) has flushed, so refcounts, tables and disk agree, and reopens
 * itself on the returned header.
 */
final class SnapshotOps {

    /** The new header and the clusters to punch out of the file once the engine reopened. */
    record Switched(Header header, List<long[]> freedRuns) {
    }

    private final Qcow2Engine e;
    private final Path file;
    private final Geometry g;
    private final Header h;
    private final HeaderSwitch sw;

    private SnapshotOps(Qcow2Engine engine) {
        this.e = engine;
        this.file = engine.file();
        this.g = engine.geometry();
        this.h = engine.header();
        this.sw = new HeaderSwitch(engine);
    }

    // ---- create ---------------------------------------------------------------------------

    /**
     * The snapshot takes over the active L1 table where it lies (with the L2 tables and data it
     * reaches: their refcounts stay); the active disk gets a new L1 table whose references are
     * all new: +1 for every L2 table shared and for every data path through it.
     */
    static Switched create(Qcow2Engine engine, String name, Instant now) throws IOException {
        SnapshotOps op = new SnapshotOps(engine);
        List<SnapshotEntry> old = engine.snapshots();
        SnapshotTable.checkNewName(op.file, old, name);
        if (old.size() >= Limits.MAX_SNAPSHOTS) {
            throw new UnsupportedFeatureException(op.file, "cannot create snapshot '" + name + "': the image has "
                    + old.size() + " snapshots, QEMU's maximum");
        }
        long[] active = engine.l1().raw();
        op.refuseOneBitSharing(active, "create snapshot '" + name + "'");
        int diskEntries = (int) Math.min(active.length, op.g.l1EntriesFor(op.h.size()));
        // Entries past the disk (QEMU's VM state area) stay with the snapshot only, as QEMU
        // discards the VM state from the active L1 after saving it.
        long[] newL1 = op.referenceAll(active, diskEntries, active.length);
        long l1At = op.h.l1TableOffset();
        if (active.length > 0) {
            l1At = op.sw.allocate(active.length * 8L);
            op.sw.put(l1At, HeaderSwitch.encode(newL1));
        }
        SnapshotEntry s = SnapshotTable.newEntry(op.h.l1TableOffset(), active.length, SnapshotTable.nextId(old),
                name, now, op.h.size());
        List<SnapshotEntry> all = op.normalized(old);
        all.add(s);
        Header next = op.sw.replaceSnapshotTable(op.h, old, all).withL1(l1At, active.length);
        return op.sw.commit(next);
    }

    // ---- apply ----------------------------------------------------------------------------

    /**
     * The active disk becomes the snapshot's, size included. The new active L1 references the
     * snapshot's L2 tables (shared or copied) and their data, +1 each; the old active L1 gives
     * up all of its references, -1 each, and its table. The snapshot itself is untouched.
     */
    static Switched apply(Qcow2Engine engine, String idOrName) throws IOException {
        SnapshotOps op = new SnapshotOps(engine);
        SnapshotEntry s = SnapshotTable.find(op.file, engine.snapshots(), idOrName);
        long diskSize = s.diskSize() >= 0 ? s.diskSize() : op.h.size();
        long needed = op.g.l1EntriesFor(diskSize);
        if (needed * 8 > Limits.MAX_L1_TABLE_BYTES) {
            throw new CorruptImageException(op.file, "snapshot table", op.h.snapshotsOffset(), "snapshot '"
                    + s.name() + "' has a disk size of " + diskSize + " bytes, too large for an L1 table");
        }
        long[] snapL1 = L1Table.read(engine.store(), op.file, op.g, s.l1TableOffset(), s.l1Size());
        int entries = (int) Math.max(needed, 1);
        long[] from = Arrays.copyOf(snapL1, Math.min(snapL1.length, entries));
        op.refuseOneBitSharing(from, "apply snapshot '" + s.name() + "'");
        long[] active = engine.l1().raw();
        // Old references go first, so that the new flags see the final refcounts.
        op.releaseAll(active);
        op.sw.release(op.h.l1TableOffset(), active.length * 8L);
        long[] newL1 = op.referenceAll(Arrays.copyOf(from, entries), from.length, entries);
        long l1At = op.sw.allocate(entries * 8L);
        op.sw.put(l1At, HeaderSwitch.encode(newL1));
        Header next = op.h.withSize(diskSize).withL1(l1At, entries);
        return op.sw.commit(next);
    }

    // ---- delete ---------------------------------------------------------------------------

    /**
     * The snapshot's L1 table gives up all its references (-1 for each L2 table and each data
     * path, VM state included) and its table; clusters that reach 0 are freed. Active tables
     * whose flags change because of it are replaced by copies.
     */
    static Switched delete(Qcow2Engine engine, String idOrName) throws IOException {
        SnapshotOps op = new SnapshotOps(engine);
        List<SnapshotEntry> old = engine.snapshots();
        SnapshotEntry s = SnapshotTable.find(op.file, old, idOrName);
        long[] snapL1 = L1Table.read(engine.store(), op.file, op.g, s.l1TableOffset(), s.l1Size());
        op.releaseAll(snapL1);
        op.sw.release(s.l1TableOffset(), s.l1Size() * 8L);
        long[] active = engine.l1().raw();
        long[] newL1 = op.refreshActive(active);
        Header next = op.h;
        if (newL1 != null) {
            long l1At = op.sw.allocate(active.length * 8L);
            op.sw.put(l1At, HeaderSwitch.encode(newL1));
            op.sw.release(op.h.l1TableOffset(), active.length * 8L);
            next = next.withL1(l1At, active.length);
        }
        List<SnapshotEntry> remaining = new ArrayList<>();
        for (SnapshotEntry x : op.normalized(old)) {
            if (!x.id().equals(s.id())) {
                remaining.add(x);
            }
        }
        next = op.sw.replaceSnapshotTable(next, old, remaining);
        return op.sw.commit(next);
    }

    // ---- rename ---------------------------------------------------------------------------

    /**
     * Only the snapshot table changes: a new table with the entry renamed (same id, tables
     * and times), written beside the old one and named by the header switch.
     */
    static Switched rename(Qcow2Engine engine, String idOrName, String newName) throws IOException {
        SnapshotOps op = new SnapshotOps(engine);
        List<SnapshotEntry> old = engine.snapshots();
        SnapshotEntry s = SnapshotTable.find(op.file, old, idOrName);
        SnapshotTable.checkNewName(op.file, old, newName);
        List<SnapshotEntry> renamed = new ArrayList<>();
        for (SnapshotEntry x : op.normalized(old)) {
            renamed.add(x.id().equals(s.id()) ? new SnapshotEntry(x.l1TableOffset(), x.l1Size(), x.id(), newName,
                    x.dateSec(), x.dateNsec(), x.vmClockNsec(), x.vmStateSize(), x.diskSize(), x.icount(),
                    x.extraData()) : x);
        }
        return op.sw.commit(op.sw.replaceSnapshotTable(op.h, old, renamed));
    }

    // ---- references -----------------------------------------------------------------------

    /**
     * A new L1 table of {@code size} entries referencing the L2 tables of {@code l1[0..count)}:
     * every data path +1 first; then each table is shared (+1) when its flags are right for
     * the new refcounts, else copied with corrected flags. L1 COPIED is set where the
     * table's new refcount is 1.
     */
    private long[] referenceAll(long[] l1, int count, int size) throws IOException {
        ShadowRefcounts rc = sw.refcounts;
        for (int i = 0; i < count; i++) {
            L1Entry le = l1Entry(l1, i);
            if (le.isAllocated()) {
                dataRefs(le.l2Offset(), 1);
            }
        }
        long[] out = new long[size];
        for (int i = 0; i < count; i++) {
            L1Entry le = l1Entry(l1, i);
            if (!le.isAllocated()) {
                continue;
            }
            long[] t = e.l2Cache().get(le.l2Offset());
            long[] flagged = flagged(t);
            long at;
            if (flagged == t) {
                at = le.l2Offset();
                rc.add(at >>> g.clusterBits(), 1);
            } else {
                at = write(flagged);
            }
            out[i] = at | (rc.after(at >>> g.clusterBits()) == 1 ? L1Entry.COPIED : 0);
        }
        return out;
    }

    /** Every reference of an L1 table goes away: each L2 table -1 and each data path -1. */
    private void releaseAll(long[] l1) throws IOException {
        for (int i = 0; i < l1.length; i++) {
            L1Entry le = l1Entry(l1, i);
            if (le.isAllocated()) {
                dataRefs(le.l2Offset(), -1);
                sw.refcounts.add(le.l2Offset() >>> g.clusterBits(), -1);
            }
        }
    }

    /**
     * After a delete: the active L1 with tables whose flags no longer agree replaced by copies
     * (the reference moves, so data refcounts stay) and L1 COPIED flags recomputed; null when
     * nothing changes.
     */
    private long[] refreshActive(long[] active) throws IOException {
        ShadowRefcounts rc = sw.refcounts;
        long[] out = active.clone();
        boolean changed = false;
        for (int i = 0; i < active.length; i++) {
            L1Entry le = l1Entry(active, i);
            if (!le.isAllocated()) {
                continue;
            }
            long at = le.l2Offset();
            long[] t = e.l2Cache().get(at);
            long[] flagged = flagged(t);
            if (flagged != t) {
                rc.add(at >>> g.clusterBits(), -1);
                at = write(flagged);
            }
            out[i] = at | (rc.after(at >>> g.clusterBits()) == 1 ? L1Entry.COPIED : 0);
            changed |= out[i] != active[i];
        }
        return changed ? out : null;
    }

    /** A new cluster holding the table {@code t}. */
    private long write(long[] t) throws IOException {
        long at = sw.allocate(g.clusterSize());
        sw.put(at, HeaderSwitch.encode(t));
        return at;
    }

    /**
     * The table with every COPIED flag as the new refcounts want it: {@code t} itself when
     * all flags already agree (the table can be shared), else a corrected copy. One pass.
     */
    private long[] flagged(long[] t) throws IOException {
        long[] c = null;
        for (int j = 0; j < t.length; j++) {
            long raw = t[j];
            if (raw == 0) {
                continue;
            }
            long f = withFlag(raw);
            if (f != raw) {
                if (c == null) {
                    c = t.clone();
                }
                c[j] = f;
            }
        }
        return c == null ? t : c;
    }

    /** The entry with COPIED as the new refcounts want it (QEMU: set exactly at refcount 1). */
    private long withFlag(long raw) throws IOException {
        long host = plainHost(raw);
        if (host <= 0) {
            ClusterDescriptor d = ClusterDescriptor.decode(raw, g, h.version());
            host = switch (d) {
                case ClusterDescriptor.Normal n -> n.hostOffset();
                case ClusterDescriptor.Zero z -> z.hostOffset();
                default -> -1;
            };
            if (host < 0) {
                return raw;
            }
        }
        boolean one = host != 0 && sw.refcounts.after(host >>> g.clusterBits()) == 1;
        return one ? raw | ClusterDescriptor.COPIED : raw & ~ClusterDescriptor.COPIED;
    }

    /**
     * The host offset of an entry that is plainly a cluster in use (normal, or zero with a
     * preallocated cluster): not compressed, no reserved bit, a cluster-aligned offset that is
     * not 0; else 0, and the caller decodes the entry in full. This is the decision
     * {@link ClusterDescriptor#decode} makes for such entries, without making a record per
     * entry: these loops see every cluster of the image, most of them with the JIT still cold.
     */
    private long plainHost(long raw) {
        if ((raw & (ClusterDescriptor.COMPRESSED | ClusterDescriptor.RESERVED_MASK)) != 0) {
            return 0;
        }
        long host = raw & ClusterDescriptor.OFFSET_MASK;
        return (host & (g.clusterSize() - 1)) == 0 ? host : 0;
    }

    /** Adds {@code delta} to the refcount of every host cluster the table's entries use. */
    private void dataRefs(long l2Offset, int delta) throws IOException {
        long[] t = e.l2Cache().get(l2Offset);
        ShadowRefcounts rc = sw.refcounts;
        int bits = g.clusterBits();
        for (int j = 0; j < t.length; j++) {
            if (t[j] == 0) {
                continue;
            }
            long host = plainHost(t[j]);
            if (host != 0) {
                rc.add(host >>> bits, delta);
                continue;
            }
            switch (ClusterDescriptor.decode(t[j], g, h.version())) {
                case ClusterDescriptor.Normal n -> rc.add(n.hostOffset() >>> g.clusterBits(), delta);
                case ClusterDescriptor.Zero z when z.hostOffset() != 0 -> rc.add(z.hostOffset() >>> g.clusterBits(), delta);
                case ClusterDescriptor.Compressed c -> {
                    for (long cl = c.firstCluster(g); cl <= c.lastCluster(g); cl++) {
                        rc.add(cl, delta);
                    }
                }
                case ClusterDescriptor.Invalid inv -> throw new CorruptImageException(file, "L2 table",
                        l2Offset + 8L * j, inv.reason() + " (entry 0x" + Long.toHexString(inv.raw()) + ")");
                default -> {
                }
            }
        }
    }

    /** Entries come from tables already validated on read (active at open, snapshot's here). */
    private L1Entry l1Entry(long[] l1, int i) throws CorruptImageException {
        L1Entry le = L1Entry.decode(l1[i], g);
        if (le == null) {
            throw new CorruptImageException(file, "L1 table", -1, L1Entry.problem(l1[i], g));
        }
        return le;
    }

    /** QEMU's 1-bit refusal: a cluster shared by two L1 tables would need refcount 2. */
    private void refuseOneBitSharing(long[] l1, String what) throws UnsupportedFeatureException {
        if (g.refcountBits() != 1) {
            return;
        }
        for (long raw : l1) {
            if ((raw & L1Entry.OFFSET_MASK) != 0) {
                throw new UnsupportedFeatureException(file, "cannot " + what + ": with refcount_bits=1 a cluster "
                        + "cannot be shared between a snapshot and the active disk (qemu-img 7.2 fails the same way"
                        + " with 'Invalid argument'); convert the image with refcount_bits=16 first");
            }
        }
    }

    /** The entries as they will be written again (QEMU extends short extra data). */
    private List<SnapshotEntry> normalized(List<SnapshotEntry> entries) {
        List<SnapshotEntry> out = new ArrayList<>();
        for (SnapshotEntry x : entries) {
            out.add(SnapshotTable.normalize(x, h.size()));
        }
        return out;
    }
}
