package org.vmsnap.testkit;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

/**
 * Hostile qcow2 images for the bad-input tests: QEMU makes valid images, then each case
 * copies one and breaks exactly one field (offsets after {@code docs/interop/qcow2.txt}).
 *
 * <p>The valid image ({@link #VALID}, 8 MiB, 64 KiB clusters, compat=1.1, 16-bit refcounts)
 * holds, in guest order: a compressed cluster of 0x11 at 0, two normal clusters of 0x22 at
 * 1 MiB, a zero cluster at 2 MiB and a normal cluster of 0x33 at 7 MiB (the last cluster of
 * the file). Its layout as qemu-img 7.2 writes it: header at 0, refcount table at 0x10000,
 * refcount block at 0x20000, L1 table at 0x30000, L2 table at 0x40000, then data; but the
 * cases read every offset from the file rather than assuming this.
 *
 * <p>Backing-name cases start from an overlay ({@link #VALID_OVERLAY}) of a raw file; the
 * snapshot-table cases from a copy of the valid image with one internal snapshot.
 *
 * <p>Careful with QEMU on these files: {@code qemu-img check} of "backing-cycle" recurses
 * through the cycle and eats gigabytes of memory (QEMU 7.2); {@code qemu-img info
 * --backing-chain} reports the loop instead. {@code BadImagesTest} records which cases QEMU
 * itself detects and how.
 */
public final class BadImages {

    /** The valid qcow2 image every single-field case starts from. */
    public static final String VALID = "valid.qcow2";
    /** The valid overlay the backing-name cases start from; its backing file is {@link #VALID_BACKING}. */
    public static final String VALID_OVERLAY = "valid-overlay.qcow2";
    /** Raw backing file of {@link #VALID_OVERLAY}. */
    public static final String VALID_BACKING = "valid-backing.raw";
    /** Copy of {@link #VALID} with one internal snapshot "s1". */
    public static final String VALID_WITH_SNAPSHOT = "valid-snapshot.qcow2";

    public static final long VIRTUAL_SIZE = 8L << 20;
    public static final int CLUSTER_SIZE = 64 * 1024;
    /** Guest offset of the compressed cluster (pattern 0x11). */
    public static final long COMPRESSED_GUEST_OFFSET = 0;
    /** Guest offset of the two normal clusters (pattern 0x22). */
    public static final long DATA_GUEST_OFFSET = 1L << 20;
    /** Guest offset of the zero cluster. */
    public static final long ZERO_GUEST_OFFSET = 2L << 20;
    /** Guest offset of the last normal cluster (pattern 0x33), the last cluster in the file. */
    public static final long LAST_DATA_GUEST_OFFSET = 7L << 20;

    /** An offset far past the end of any generated file, cluster aligned: 1 TiB. */
    private static final long FAR_PAST_EOF = 1L << 40;

    private BadImages() {
    }

    @FunctionalInterface
    private interface Edit {
        void apply(FileChannel ch) throws IOException;
    }

    /**
     * Creates the valid images and every bad case in {@code dir} (which should be empty, e.g.
     * a JUnit {@code @TempDir}); returns the cases in a stable order. Takes about a second.
     */
    public static List<BadImage> generate(Path dir) throws IOException {
        Files.createDirectories(dir);
        Path valid = createValid(dir);
        Path overlay = createOverlay(dir);
        Path withSnapshot = dir.resolve(VALID_WITH_SNAPSHOT);
        Files.copy(valid, withSnapshot, StandardCopyOption.REPLACE_EXISTING);
        QemuImg.snapshotCreate(withSnapshot, "s1");

        ImageLayout v = ImageLayout.read(valid);
        long cluster = v.clusterSize();
        List<BadImage> cases = new ArrayList<>();
        Maker m = new Maker(dir, cases);

        // ---- header ----
        // Bytes 0-3 (magic) "QFI\xfb" -> "QFI\xfa".
        m.edit(valid, "bad-magic", "magic", ch -> putInt(ch, ImageLayout.MAGIC, 0x514649fa));
        // Bytes 4-7 (version) 3 -> 1, 3 -> 4.
        m.edit(valid, "version-1", "version", ch -> putInt(ch, ImageLayout.VERSION, 1));
        m.edit(valid, "version-4", "version", ch -> putInt(ch, ImageLayout.VERSION, 4));
        // The file is cut to 48 bytes: magic..refcount_table_offset, no header end.
        m.edit(valid, "header-truncated", "header", ch -> ch.truncate(48));
        // Bytes 20-23 (cluster_bits) 16 -> 8 (below the spec's 9) and 16 -> 22 (above QEMU's 2 MiB).
        m.edit(valid, "cluster-bits-8", "cluster_bits", ch -> putInt(ch, ImageLayout.CLUSTER_BITS, 8));
        m.edit(valid, "cluster-bits-22", "cluster_bits", ch -> putInt(ch, ImageLayout.CLUSTER_BITS, 22));
        // Bytes 100-103 (header_length) 112 -> 96 (v3 needs >= 104), -> 108 (not a multiple
        // of 8), -> cluster size + 8 (the header must fit in the first cluster).
        m.edit(valid, "header-length-too-small", "header_length", ch -> putInt(ch, ImageLayout.HEADER_LENGTH, 96));
        m.edit(valid, "header-length-unaligned", "header_length", ch -> putInt(ch, ImageLayout.HEADER_LENGTH, 108));
        m.edit(valid, "header-length-past-cluster", "header_length",
                ch -> putInt(ch, ImageLayout.HEADER_LENGTH, (int) cluster + 8));
        // Bytes 72-79 (incompatible_features): bit 20, which no implementation knows, is set.
        m.edit(valid, "unknown-incompatible-feature", "feature",
                ch -> putLong(ch, ImageLayout.INCOMPATIBLE_FEATURES, 1L << 20));
        // Bytes 96-99 (refcount_order) 4 -> 7 (the spec allows at most 6).
        m.edit(valid, "refcount-order-7", "refcount", ch -> putInt(ch, ImageLayout.REFCOUNT_ORDER, 7));

        // ---- header extensions ----
        // The length field (bytes 4-7) of the first extension, at header_length (the feature
        // name table that qemu-img writes), becomes the cluster size: the extension's data
        // would run past the end of the first cluster.
        long ext = v.firstExtensionOffset();
        m.edit(valid, "header-extension-past-cluster", "header extension",
                ch -> putInt(ch, ext + 4, (int) cluster));
        // Same length field -> 0xfffffff0: past the end of the file too; must not allocate 4 GiB.
        m.edit(valid, "header-extension-huge", "header extension", ch -> putInt(ch, ext + 4, 0xfffffff0));

        // ---- L1 table ----
        // Bytes 36-39 (l1_size) 1 -> 0x10000000 entries (2 GiB of L1 table; QEMU's limit is 32 MiB).
        m.edit(valid, "l1-size-too-large", "l1", ch -> putInt(ch, ImageLayout.L1_SIZE, 0x10000000));
        // Bytes 36-39 (l1_size) 1 -> 0: too small to map the 8 MiB virtual size.
        m.edit(valid, "l1-size-too-small", "l1", ch -> putInt(ch, ImageLayout.L1_SIZE, 0));
        // Bytes 40-47 (l1_table_offset) -> 1 TiB, past the end of the file.
        m.edit(valid, "l1-offset-past-eof", "l1", ch -> putLong(ch, ImageLayout.L1_TABLE_OFFSET, FAR_PAST_EOF));
        // Bytes 40-47 (l1_table_offset) + 512: not cluster aligned.
        m.edit(valid, "l1-offset-misaligned", "l1",
                ch -> putLong(ch, ImageLayout.L1_TABLE_OFFSET, v.l1TableOffset() + 512));

        // ---- refcount table ----
        // Bytes 48-55 (refcount_table_offset) -> 1 TiB, past the end of the file.
        m.edit(valid, "refcount-table-past-eof", "refcount table",
                ch -> putLong(ch, ImageLayout.REFCOUNT_TABLE_OFFSET, FAR_PAST_EOF));
        // Bytes 48-55 (refcount_table_offset) + 512: not cluster aligned.
        m.edit(valid, "refcount-table-misaligned", "refcount table",
                ch -> putLong(ch, ImageLayout.REFCOUNT_TABLE_OFFSET, v.refcountTableOffset() + 512));
        // Bytes 56-59 (refcount_table_clusters) 1 -> 0x100000 (64 GiB of table; QEMU's limit is 8 MiB).
        m.edit(valid, "refcount-table-too-large", "refcount table",
                ch -> putInt(ch, ImageLayout.REFCOUNT_TABLE_CLUSTERS, 0x100000));

        // ---- L1 / L2 entries ----
        long l1Entry0 = v.l1EntryOffset(0);
        try (FileChannel ch = FileChannel.open(valid, StandardOpenOption.READ)) {
            long l1Value = ImageLayout.readLong(ch, l1Entry0);
            long l2Table = l1Value & ImageLayout.OFFSET_MASK;
            long dataEntry = v.l2EntryOffset(ch, DATA_GUEST_OFFSET);
            long dataValue = ImageLayout.readLong(ch, dataEntry);
            long dataHost = ImageLayout.standardHostOffset(dataValue);
            long lastValue = ImageLayout.readLong(ch, v.l2EntryOffset(ch, LAST_DATA_GUEST_OFFSET));
            long lastHost = ImageLayout.standardHostOffset(lastValue);
            long compressedEntry = v.l2EntryOffset(ch, COMPRESSED_GUEST_OFFSET);
            long compressedValue = ImageLayout.readLong(ch, compressedEntry);
            long refcountOfData = v.refcountEntryOffset(ch, dataHost);
            long refcountBlock = ImageLayout.readLong(ch, v.refcountTableOffset()) & ~0x1ffL;

            // L1 entry 0 (at l1_table_offset): reserved bit 1 (bits 0-8 are reserved) and
            // reserved bit 56 (bits 56-62 are reserved) set; offset and COPIED unchanged.
            m.edit(valid, "l1-entry-reserved-low-bit", "reserved", ch2 -> putLong(ch2, l1Entry0, l1Value | 1L << 1));
            m.edit(valid, "l1-entry-reserved-high-bit", "reserved", ch2 -> putLong(ch2, l1Entry0, l1Value | 1L << 56));
            // The L2 entry of guest 1 MiB (a normal cluster): reserved bit 1 (bits 1-8) and
            // reserved bit 56 (bits 56-61) set.
            m.edit(valid, "l2-entry-reserved-low-bit", "reserved", ch2 -> putLong(ch2, dataEntry, dataValue | 1L << 1));
            m.edit(valid, "l2-entry-reserved-high-bit", "reserved", ch2 -> putLong(ch2, dataEntry, dataValue | 1L << 56));

            // An L1 entry cannot point an L2 table at the header: offset 0 means "no L2 table"
            // by the spec. So the overlap cases aim at the other metadata.
            // L1 entry 0 -> the L1 table itself / the refcount table / the refcount block (COPIED kept).
            m.edit(valid, "l2-table-at-l1-table", "overlap",
                    ch2 -> putLong(ch2, l1Entry0, v.l1TableOffset() | ImageLayout.COPIED));
            m.edit(valid, "l2-table-at-refcount-table", "overlap",
                    ch2 -> putLong(ch2, l1Entry0, v.refcountTableOffset() | ImageLayout.COPIED));
            m.edit(valid, "l2-table-at-refcount-block", "overlap",
                    ch2 -> putLong(ch2, l1Entry0, refcountBlock | ImageLayout.COPIED));
            // The L2 entry of guest 1 MiB -> the L1 table's cluster / the L2 table's own cluster.
            m.edit(valid, "data-cluster-at-l1-table", "overlap",
                    ch2 -> putLong(ch2, dataEntry, v.l1TableOffset() | ImageLayout.COPIED));
            m.edit(valid, "data-cluster-at-l2-table", "overlap",
                    ch2 -> putLong(ch2, dataEntry, l2Table | ImageLayout.COPIED));

            // The 16-bit refcount of the host cluster holding guest 1 MiB: 1 -> 0, while the
            // L2 entry still uses it (with COPIED set).
            m.edit(valid, "refcount-zero-for-used-cluster", "refcount",
                    ch2 -> ch2.write(ByteBuffer.wrap(new byte[2]), refcountOfData));

            // ---- truncation ----
            // The file ends in the middle of the L2 table (and so before all data clusters).
            m.edit(valid, "truncated-in-l2-table", "truncated", ch2 -> ch2.truncate(l2Table + cluster / 2));
            // The file ends in the middle of the last data cluster (guest 7 MiB).
            m.edit(valid, "truncated-in-data", "truncated", ch2 -> ch2.truncate(lastHost + cluster / 2));

            // ---- compressed cluster ----
            // The compressed bytes of guest cluster 0 (offset and sector count from its L2
            // entry) are overwritten with 0xff: a deflate block of reserved type 3, which no
            // inflater accepts.
            long compressedHost = v.compressedHostOffset(compressedValue);
            long span = Math.min(v.compressedSpanBytes(compressedValue), v.fileSize() - compressedHost);
            m.edit(valid, "compressed-garbage", "compressed", ch2 -> {
                byte[] garbage = new byte[(int) span];
                Arrays.fill(garbage, (byte) 0xff);
                writeFully(ch2, garbage, compressedHost);
            });
            // The host offset field (bits 0 to 62-(cluster_bits-8)-1) of the compressed
            // entry -> 1 TiB: the compressed data lies past the end of the file.
            long offsetMask = (1L << v.compressedOffsetBits()) - 1;
            m.edit(valid, "compressed-past-eof", "compressed",
                    ch2 -> putLong(ch2, compressedEntry, (compressedValue & ~offsetMask) | FAR_PAST_EOF));
        }

        // ---- snapshot table ----
        ImageLayout s = ImageLayout.read(withSnapshot);
        // Bytes 64-71 (snapshots_offset) -> 1 TiB / + 512 (unaligned); bytes 60-63
        // (nb_snapshots) 1 -> 0x10000000 (QEMU's limit is 65536).
        m.edit(withSnapshot, "snapshot-table-past-eof", "snapshot",
                ch -> putLong(ch, ImageLayout.SNAPSHOTS_OFFSET, FAR_PAST_EOF));
        m.edit(withSnapshot, "snapshot-table-misaligned", "snapshot",
                ch -> putLong(ch, ImageLayout.SNAPSHOTS_OFFSET, s.snapshotsOffset() + 512));
        m.edit(withSnapshot, "snapshot-count-too-large", "snapshot",
                ch -> putInt(ch, ImageLayout.NB_SNAPSHOTS, 0x10000000));

        // ---- backing file name ----
        // Each case rewrites the name bytes at backing_file_offset (bytes 8-15, unchanged,
        // inside the first cluster) and their length in backing_file_size (bytes 16-19).
        ImageLayout o = ImageLayout.read(overlay);
        m.backingName(overlay, o, "backing-name-too-long", "a".repeat(1100));
        m.backingName(overlay, o, "backing-name-nbd", "nbd:127.0.0.1:9");
        m.backingName(overlay, o, "backing-name-http", "http://127.0.0.1:9/disk.img");
        m.backingName(overlay, o, "backing-name-json",
                "json:{\"driver\":\"raw\",\"file\":{\"driver\":\"file\",\"filename\":\""
                        + dir.resolve(VALID_BACKING).toAbsolutePath() + "\"}}");

        // ---- backing cycle ----
        // cycle-a.qcow2 -> cycle-b.qcow2 -> cycle-a.qcow2: both made by qemu-img, then only
        // cycle-b's backing name (and its backing format extension) rewritten by
        // "qemu-img rebase -u". The case's file is cycle-a.
        Path cycleA = dir.resolve("cycle-a.qcow2");
        Path cycleB = dir.resolve("cycle-b.qcow2");
        QemuImg.create(cycleB, "qcow2", VIRTUAL_SIZE);
        QemuImg.createOverlay(cycleA, Path.of(cycleB.getFileName().toString()), "qcow2");
        QemuImg.rebaseUnsafe(cycleB, cycleA.getFileName().toString(), "qcow2");
        cases.add(new BadImage("backing-cycle", cycleA, "cycle"));

        return List.copyOf(cases);
    }

    /** The case called {@code name} from a {@link #generate} result. */
    public static BadImage byName(List<BadImage> cases, String name) {
        return cases.stream().filter(c -> c.name().equals(name)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no bad image case " + name));
    }

    /**
     * Creates {@link #VALID} in {@code dir} with qemu-img and qemu-io; see the class comment
     * for its contents.
     */
    public static Path createValid(Path dir) {
        Path valid = dir.resolve(VALID);
        QemuImg.create(valid, "qcow2", VIRTUAL_SIZE, "cluster_size=" + CLUSTER_SIZE, "compat=1.1");
        QemuIo.run(valid, "qcow2",
                "write -c -P 0x11 " + COMPRESSED_GUEST_OFFSET + " " + CLUSTER_SIZE,
                "write -P 0x22 " + DATA_GUEST_OFFSET + " " + 2 * CLUSTER_SIZE,
                "write -z " + ZERO_GUEST_OFFSET + " " + CLUSTER_SIZE,
                "write -P 0x33 " + LAST_DATA_GUEST_OFFSET + " " + CLUSTER_SIZE);
        return valid;
    }

    /** Creates {@link #VALID_BACKING} (raw, 0x44 at 0..256 KiB) and {@link #VALID_OVERLAY} over it (0x55 at 64 KiB). */
    public static Path createOverlay(Path dir) {
        Path backing = dir.resolve(VALID_BACKING);
        Path overlay = dir.resolve(VALID_OVERLAY);
        QemuImg.create(backing, "raw", VIRTUAL_SIZE);
        QemuIo.run(backing, "raw", "write -P 0x44 0 " + 4 * CLUSTER_SIZE);
        // A bare file name: QEMU resolves it relative to the overlay's folder.
        QemuImg.createOverlay(overlay, Path.of(VALID_BACKING), "raw", "cluster_size=" + CLUSTER_SIZE);
        QemuIo.run(overlay, "qcow2", "write -P 0x55 " + CLUSTER_SIZE + " " + CLUSTER_SIZE);
        return overlay;
    }

    /** Hex SHA-256 of a file's bytes: for "the engine changed nothing on disk" assertions. */
    public static String sha256(Path file) throws IOException {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
        byte[] buffer = new byte[1 << 16];
        try (InputStream in = Files.newInputStream(file)) {
            for (int n; (n = in.read(buffer)) > 0; ) {
                digest.update(buffer, 0, n);
            }
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    /** Copies a valid image to {@code <name>.qcow2} and applies one edit. */
    private record Maker(Path dir, List<BadImage> cases) {

        void edit(Path source, String name, String hint, Edit edit) throws IOException {
            Path file = dir.resolve(name + ".qcow2");
            Files.copy(source, file, StandardCopyOption.REPLACE_EXISTING);
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                edit.apply(ch);
            }
            cases.add(new BadImage(name, file, hint));
        }

        void backingName(Path source, ImageLayout layout, String name, String backingName) throws IOException {
            byte[] bytes = backingName.getBytes(StandardCharsets.UTF_8);
            if (layout.backingFileOffset() + bytes.length > layout.clusterSize()) {
                throw new IllegalStateException("backing name of " + bytes.length + " bytes does not fit");
            }
            edit(source, name, "backing", ch -> {
                writeFully(ch, bytes, layout.backingFileOffset());
                putInt(ch, ImageLayout.BACKING_FILE_SIZE, bytes.length);
            });
        }
    }

    private static void putInt(FileChannel ch, long offset, int value) throws IOException {
        writeFully(ch, ByteBuffer.allocate(4).putInt(0, value).array(), offset);
    }

    private static void putLong(FileChannel ch, long offset, long value) throws IOException {
        writeFully(ch, ByteBuffer.allocate(8).putLong(0, value).array(), offset);
    }

    private static void writeFully(FileChannel ch, byte[] bytes, long offset) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        while (b.hasRemaining()) {
            ch.write(b, offset + b.position());
        }
    }
}
