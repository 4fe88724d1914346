package org.vmsnap.qcow2.engine;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import org.vmsnap.qcow2.BlockDevice;
import org.vmsnap.qcow2.BlockStatus;
import org.vmsnap.qcow2.UnsupportedFeatureException;
import org.vmsnap.qcow2.format.Geometry;
import org.vmsnap.qcow2.format.Limits;
import org.vmsnap.qcow2.io.BlockStore;

/**
 * {@code qemu-img resize} of a qcow2 image open for writing: shrink only over unallocated
 * guest clusters; grow in place when the L1 table's last cluster has room, else into a new
 * table written and synced before the header names it (the old one freed after), so a
 * crash leaves the old size or the new one.
 */
final class ImageResize {
    private final Qcow2Engine engine;
    private final RefcountTable refcounts;
    private final DataPath data;
    private final BlockStore store;
    private final Path file;
    private final Geometry g;
    private final L1Table l1;
    private final OverlapGuard guard;
    private final ClusterAllocator allocator;
    private final BlockDevice backing;

    ImageResize(Qcow2Engine engine, RefcountTable refcounts, DataPath data) {
        this.engine = engine;
        this.refcounts = refcounts;
        this.data = data;
        this.store = engine.store();
        this.file = engine.file();
        this.g = engine.geometry();
        this.l1 = engine.l1();
        this.guard = engine.guard();
        this.allocator = engine.allocator();
        this.backing = engine.backing();
    }

    void resize(long newSize) throws IOException {
        if (newSize < 0 || newSize > Limits.MAX_VIRTUAL_SIZE_BYTES) {
            throw new IllegalArgumentException("invalid size " + newSize);
        }
        engine.flush();
        if (newSize < engine.header().size()) {
            long firstCut = newSize;
            for (long pos = firstCut; pos < engine.header().size(); ) {
                BlockStatus s = data.blockStatus(pos, engine.header().size() - pos);
                if (s.depth() == 0 && s.present()) {
                    throw new UnsupportedFeatureException(file, "cannot shrink to " + newSize
                            + " bytes: guest data is allocated at offset 0x" + Long.toHexString(pos)
                            + " (discard it first)");
                }
                pos += s.lengthBytes();
            }
            engine.writeHeader(engine.header().withSize(newSize));
            return;
        }
        long oldSize = engine.header().size();
        long needed = g.l1EntriesFor(newSize);
        if (backing != null && backing.size() > oldSize && engine.header().version() < 3) {
            throw new UnsupportedFeatureException(file, "cannot grow a compat=0.10 overlay over a larger backing file: "
                    + "the new area would show the backing file's data (qemu-img refuses this too)");
        }
        if (needed > Limits.MAX_L1_TABLE_BYTES / 8) {
            throw new UnsupportedFeatureException(file, "size " + newSize + " needs an L1 table larger than "
                    + Limits.MAX_L1_TABLE_BYTES + " bytes with " + g.clusterSize()
                    + "-byte clusters");
        }
        long capacity = l1.size() == 0 ? 0 : g.clustersFor(l1.size() * 8L) * (g.clusterSize() / 8);
        if (needed <= l1.size()) {
            engine.writeHeader(engine.header().withSize(newSize));
        } else if (needed <= capacity && l1.size() > 0) {
            // The table's last cluster has room: zero the new entries on disk before the
            // header counts them (whatever was stored there is not trusted).
            long from = l1.offset() + 8L * l1.size();
            guard.checkMetadataWrite(from, (needed - l1.size()) * 8, OverlapGuard.Kind.L1_TABLE);
            store.write(from, ByteBuffer.allocate((int) (needed - l1.size()) * 8));
            store.flush();
            long[] grown = Arrays.copyOf(l1.raw(), (int) needed);
            l1.moveTo(l1.offset(), grown);
            guard.removeTable(OverlapGuard.Kind.L1_TABLE, l1.offset());
            guard.addTable(OverlapGuard.Kind.L1_TABLE, l1.offset(), needed * 8);
            engine.writeHeader(engine.header().withSize(newSize).withL1(l1.offset(), (int) needed));
        } else {
            int clusters = Math.toIntExact(g.clustersFor(needed * 8));
            long newOffset = allocator.allocate(clusters);
            long[] grown = Arrays.copyOf(l1.raw(), (int) needed);
            guard.addTable(OverlapGuard.Kind.L1_TABLE, newOffset, needed * 8);
            ByteBuffer b = ByteBuffer.allocate(clusters * g.clusterSize());
            for (long v : grown) {
                b.putLong(v);
            }
            b.flip();
            try {
                store.write(newOffset, b);
            } catch (IOException full) {
                // a full disk: nothing refers to the new table's clusters yet, so take them back
                guard.removeTable(OverlapGuard.Kind.L1_TABLE, newOffset);
                allocator.unallocate(newOffset, clusters);
                throw full;
            }
            refcounts.flush();
            store.flush();
            long oldOffset = l1.offset();
            int oldEntries = l1.size();
            engine.writeHeader(engine.header().withSize(newSize).withL1(newOffset, (int) needed));
            l1.moveTo(newOffset, grown);
            guard.removeTable(OverlapGuard.Kind.L1_TABLE, oldOffset);
            if (oldEntries > 0) {
                allocator.deferFree(oldOffset >>> g.clusterBits(), g.clustersFor(oldEntries * 8L));
                engine.flush();
            }
        }
        zeroGrownArea(oldSize, newSize);
    }

    /** Growing over a larger backing file: the new area must read as zeros, not as backing data. */
    private void zeroGrownArea(long oldSize, long newSize) throws IOException {
        if (backing != null && backing.size() > oldSize) {
            data.zeroOrDiscard(oldSize, Math.min(newSize, backing.size()) - oldSize, false);
            engine.flush();
        }
    }
}
