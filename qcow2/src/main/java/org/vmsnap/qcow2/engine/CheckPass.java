package org.vmsnap.qcow2.engine;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.vmsnap.qcow2.ImageException;
import org.vmsnap.qcow2.RepairMode;
import org.vmsnap.qcow2.format.Geometry;
import org.vmsnap.qcow2.format.Header;
import org.vmsnap.qcow2.format.L1Entry;
import org.vmsnap.qcow2.io.BlockStore;

/**
 * One pass of {@link ImageChecker} over an image: the header, the tables the check has read
 * so far, the messages, and the writes a repair makes (behind QEMU's overlap check).
 */
final class CheckPass {
    final BlockStore store;
    final Path path;
    final RepairMode mode;
    final ImageChecker.Messages messages;
    Header header;
    final Geometry geometry;
    /** File length as last read (QEMU re-reads it; only the check itself changes it). */
    long fileSize;
    final List<SnapshotTableReader.Snapshot> snapshots = new ArrayList<>();
    long snapshotsSizeBytes;
    final BitmapsExtension bitmaps;
    private boolean corruptionSignaled;
    private OverlapGuard layout;
    /** The stored refcount structure of the running check. */
    StoredRefcounts stored;
    /** The active L1 table, read once (QEMU keeps it in memory); repairs update it. */
    private long[] activeL1;
    /**
     * L2 tables already read by a pass that repairs nothing (a write-open's check, {@code img check}):
     * the walk reads a table shared by the active disk and the snapshots once for each, and the
     * COPIED check once more; decoding them again was most of a warm {@code img snapshot -c}'s time.
     * At most {@link #L2_CACHE_BYTES}; a repair writes tables, so its pass keeps none.
     */
    private final java.util.LinkedHashMap<Long, long[]> l2Tables = new java.util.LinkedHashMap<>(64, 0.75f, true);
    static final long L2_CACHE_BYTES = 32L << 20;

    private CheckPass(BlockStore store, RepairMode mode, ImageChecker.Messages messages, Header header, long fileSize)
            throws ImageException {
        this.store = store;
        this.path = store.path();
        this.mode = mode;
        this.messages = messages;
        this.header = header;
        this.geometry = header.geometry();
        this.fileSize = fileSize;
        this.bitmaps = BitmapsExtension.of(path, header);
    }

    static CheckPass open(BlockStore store, RepairMode mode, ImageChecker.Messages messages) throws IOException {
        long size = store.size();
        int want = (int) Math.min(Header.MAX_HEADER_BYTES, size);
        ByteBuffer buf = ByteBuffer.allocate(want);
        store.read(0, buf);
        buf.flip();
        Header header = Header.decode(store.path(), buf, size);
        return new CheckPass(store, mode, messages, header, size);
    }

    int clusterBits() {
        return geometry.clusterBits();
    }

    long[] activeL1() throws IOException {
        if (activeL1 == null) {
            activeL1 = readTable(header.l1TableOffset(), Integer.toUnsignedLong(header.l1Size()));
        }
        return activeL1;
    }

    void refreshFileSize() throws IOException {
        fileSize = store.size();
    }

    /**
     * Reads at a host offset taken from the metadata: anything at or past the end of the
     * file, or at an offset no file can have, reads as zeros (as QEMU's reads past the end do).
     */
    void read(long offset, ByteBuffer dst) throws IOException {
        int length = dst.remaining();
        if (offset < 0 || offset >= fileSize || offset > Long.MAX_VALUE - length) {
            while (dst.hasRemaining()) {
                dst.put((byte) 0);
            }
            return;
        }
        store.read(offset, dst);
    }

    /**
     * An L2 table's words, read once per pass when the pass repairs nothing. The caller must not
     * change the array (a repairing pass gets a fresh one).
     */
    long[] readL2(long offset) throws IOException {
        int words = geometry.l2TableWords();
        if (mode != RepairMode.NONE) {
            return readTable(offset, words);
        }
        long[] t = l2Tables.get(offset);
        if (t == null) {
            t = readTable(offset, words);
            l2Tables.put(offset, t);
            if ((long) l2Tables.size() * words * 8 > L2_CACHE_BYTES) {
                var oldest = l2Tables.keySet().iterator();
                oldest.next();
                oldest.remove();
            }
        }
        return t;
    }

    /** Reads {@code entries} big-endian 64-bit entries; the part past the end of the file reads as zeros. */
    long[] readTable(long offset, long entries) throws IOException {
        long[] out = new long[Math.toIntExact(entries)];
        long inFile = offset < 0 || offset >= fileSize ? 0 : Math.min(entries, (fileSize - offset + 7) / 8);
        final int chunkEntries = 1 << 16;
        for (long done = 0; done < inFile; done += chunkEntries) {
            int n = (int) Math.min(chunkEntries, inFile - done);
            ByteBuffer b = ByteBuffer.allocate(n * 8).order(ByteOrder.BIG_ENDIAN);
            read(offset + done * 8, b);
            b.flip();
            for (int i = 0; i < n; i++) {
                out[(int) done + i] = b.getLong();
            }
        }
        return out;
    }

    void writeLong(long offset, long value) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.BIG_ENDIAN).putLong(0, value);
        store.write(offset, b);
    }

    /**
     * The metadata as the check knows it now, for QEMU's pre-write overlap check; built
     * on first use and again after a repair moved any table (see {@link #layoutChanged}).
     */
    OverlapGuard layout() throws IOException {
        if (layout == null) {
            int cs = geometry.clusterSize();
            OverlapGuard g = new OverlapGuard(path, geometry);
            g.addTable(OverlapGuard.Kind.L1_TABLE, header.l1TableOffset(), 8L * header.l1Size());
            g.addTable(OverlapGuard.Kind.REFCOUNT_TABLE, header.refcountTableOffset(),
                    (long) header.refcountTableClusters() * cs);
            g.addTable(OverlapGuard.Kind.SNAPSHOT_TABLE, header.snapshotsOffset(), snapshotsSizeBytes);
            for (SnapshotTableReader.Snapshot s : snapshots) {
                g.addTable(OverlapGuard.Kind.SNAPSHOT_L1, s.l1TableOffset(), 8L * s.l1Size());
            }
            for (long e : activeL1()) {
                long l2 = e & L1Entry.OFFSET_MASK;
                if (l2 != 0) {
                    g.addL2Table(l2);
                }
            }
            stored.forEachBlock(g::addRefcountBlock);
            if (bitmaps != null) {
                g.addTable(OverlapGuard.Kind.BITMAP_DIRECTORY, bitmaps.directoryOffset(), bitmaps.directorySize());
            }
            layout = g;
        }
        return layout;
    }

    /** A repair moved a table, or the snapshot table was read again: the layout is rebuilt on next use. */
    void layoutChanged() {
        layout = null;
    }

    /**
     * QEMU's pre-write overlap check for a repair write: a write that would land on other
     * metadata than the table it updates ({@code updating}, null for none the check
     * tracks) is not made, and the image is marked corrupt as QEMU does.
     *
     * @return true when the write may go ahead
     */
    boolean guardMetadataWrite(long offset, long length, OverlapGuard.Kind updating) throws IOException {
        OverlapGuard.Kind hit = layout().firstOverlap(offset, length,
                updating == null ? Set.of() : Set.of(updating));
        if (hit == null) {
            return true;
        }
        signalCorruption("Preventing invalid write on metadata (overlaps with " + hit.qemuName + ")");
        return false;
    }

    /**
     * QEMU's qcow2_signal_corruption for what makes refcounts unreadable: when repairing
     * (the image is writable) the image is marked corrupt so nothing else writes to it
     * before the repair is done; a read-only check only reports it.
     */
    void signalCorruption(String what) throws IOException {
        if (corruptionSignaled) {
            return; // QEMU reports the first event only
        }
        corruptionSignaled = true;
        if (mode == RepairMode.NONE) {
            messages.add("qcow2: Image is corrupt: " + what + "; further non-fatal corruption events will be suppressed");
            return;
        }
        messages.add("qcow2: Marking image as corrupt: " + what + "; further corruption events will be suppressed");
        header = FeatureBits.writeIncompatible(store, header, header.incompatibleFeatures() | Header.INCOMPAT_CORRUPT);
    }

    /** Clears the dirty and corrupt bits after a repair that left no corruption (qcow2_mark_clean/consistent). */
    void markClean() throws IOException {
        long bits = Header.INCOMPAT_DIRTY | Header.INCOMPAT_CORRUPT;
        if (header.version() < 3 || (header.incompatibleFeatures() & bits) == 0) {
            return;
        }
        // Everything the check wrote must be on disk before the header says it is consistent.
        store.flush();
        header = FeatureBits.writeIncompatible(store, header, header.incompatibleFeatures() & ~bits);
    }
}
