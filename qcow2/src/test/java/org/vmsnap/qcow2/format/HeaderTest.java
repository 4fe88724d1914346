package org.vmsnap.qcow2.format;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.vmsnap.qcow2.CorruptImageException;
import org.vmsnap.qcow2.NotQcow2Exception;
import org.vmsnap.qcow2.UnsupportedFeatureException;

/** Decode/encode of the header, and one test per validation rule (one field changed each). */
class HeaderTest {
    private static final Path FILE = Path.of("test.qcow2");
    /** A file large enough for every table the valid header names. */
    private static final long FILE_SIZE = 0x40000;

    /** Fields as qemu-img 7.2 writes them for "create -f qcow2 x 1G" (64 KiB clusters). */
    private static Header valid() {
        return new Header(3, 0, 0, 16, 1L << 30, 0, 2, 0x30000, 0x10000, 1, 0, 0, 0, 0, 0, 4, 112, 0,
                List.of(HeaderExtension.standardFeatureTable()), null);
    }

    private static ByteBuffer cluster(byte[] header) {
        ByteBuffer b = ByteBuffer.allocate(65536);
        b.put(header).clear();
        return b;
    }

    private static Header decode(Consumer<ByteBuffer> change) throws Exception {
        ByteBuffer b = cluster(valid().encode());
        change.accept(b);
        return Header.decode(FILE, b, FILE_SIZE);
    }

    @Test
    void roundTripsEveryField() throws Exception {
        Header h = valid().withBacking("base.qcow2", "qcow2");
        Header back = Header.decode(FILE, cluster(h.encode()), FILE_SIZE);
        assertThat(back.backingFileName()).isEqualTo("base.qcow2");
        assertThat(back.backingFormat()).isEqualTo("qcow2");
        assertThat(back.size()).isEqualTo(1L << 30);
        assertThat(back.l1TableOffset()).isEqualTo(0x30000);
        assertThat(back.refcountTableOffset()).isEqualTo(0x10000);
        assertThat(back.headerLength()).isEqualTo(112);
        assertThat(back.extensions()).containsExactlyElementsOf(h.extensions());
        assertThat(back.encode()).isEqualTo(h.encode());
    }

    @Test
    void keepsUnknownExtensionsByteForByte() throws Exception {
        HeaderExtension unknown = new HeaderExtension(0x12345678, new byte[] {1, 2, 3, 4, 5});
        Header h = valid().withExtensions(List.of(unknown, HeaderExtension.standardFeatureTable()));
        Header back = Header.decode(FILE, cluster(h.encode()), FILE_SIZE);
        assertThat(back.extensions().get(0)).isEqualTo(unknown);
        assertThat(back.encode()).isEqualTo(h.encode());
    }

    @Test
    void version2HasNoFeatureFields() throws Exception {
        Header v2 = new Header(2, 0, 0, 16, 1L << 20, 0, 1, 0x30000, 0x10000, 1, 0, 0, 0, 0, 0, 4, 72, 0, List.of(), null);
        Header back = Header.decode(FILE, cluster(v2.encode()), FILE_SIZE);
        assertThat(back.version()).isEqualTo(2);
        assertThat(back.compat()).isEqualTo("0.10");
        assertThat(back.refcountOrder()).isEqualTo(4);
    }

    @Test
    void wrongMagic() {
        assertThatThrownBy(() -> decode(b -> b.putInt(0, 0x12345678)))
                .isInstanceOf(NotQcow2Exception.class).hasMessageContaining("magic").hasMessageContaining("0x0");
    }

    @Test
    void wrongVersion() {
        assertThatThrownBy(() -> decode(b -> b.putInt(4, 4)))
                .isInstanceOf(UnsupportedFeatureException.class).hasMessageContaining("version 4");
        assertThatThrownBy(() -> decode(b -> b.putInt(4, 1)))
                .isInstanceOf(UnsupportedFeatureException.class).hasMessageContaining("version 1");
    }

    @Test
    void fileShorterThanHeader() {
        ByteBuffer b = ByteBuffer.wrap(valid().encode(), 0, 50);
        assertThatThrownBy(() -> Header.decode(FILE, b.slice(), 50))
                .isInstanceOf(NotQcow2Exception.class).hasMessageContaining("shorter");
    }

    @Test
    void clusterBitsOutOfRange() {
        assertThatThrownBy(() -> decode(b -> b.putInt(20, 8)))
                .isInstanceOf(CorruptImageException.class).hasMessageContaining("cluster_bits 8");
        assertThatThrownBy(() -> decode(b -> b.putInt(20, 22)))
                .isInstanceOf(CorruptImageException.class).hasMessageContaining("cluster_bits 22");
    }

    @Test
    void headerLengthRules() {
        assertThatThrownBy(() -> decode(b -> b.putInt(100, 96)))
                .isInstanceOf(CorruptImageException.class).hasMessageContaining("header_length 96");
        assertThatThrownBy(() -> decode(b -> b.putInt(100, 108)))
                .isInstanceOf(CorruptImageException.class).hasMessageContaining("header_length 108");
        assertThatThrownBy(() -> decode(b -> b.putInt(100, 65544)))
                .isInstanceOf(CorruptImageException.class).hasMessageContaining("header_length 65544");
    }

    @Test
    void extensionPastTheEnd() {
        // First extension starts at header_length (112): its length field at 116.
        assertThatThrownBy(() -> decode(b -> b.putInt(116, 0x7fff0000)))
                .isInstanceOf(CorruptImageException.class).hasMessageContaining("header extension")
                .hasMessageContaining("0x70");
    }

    @Test
    void l1TooLarge() {
        assertThatThrownBy(() -> decode(b -> b.putInt(36, 0x10000000)))
                .isInstanceOf(CorruptImageException.class).hasMessageContaining("L1 table too large");
    }

    @Test
    void l1TooSmallForSize() {
        assertThatThrownBy(() -> decode(b -> b.putInt(36, 1)))
                .isInstanceOf(CorruptImageException.class).hasMessageContaining("L1 table too small");
    }

    @Test
    void l1PastEndOfFile() {
        assertThatThrownBy(() -> decode(b -> b.putLong(40, 0x100000)))
                .isInstanceOf(CorruptImageException.class).hasMessageContaining("L1 table")
                .hasMessageContaining("past the end");
    }

    @Test
    void l1Misaligned() {
        assertThatThrownBy(() -> decode(b -> b.putLong(40, 0x30200)))
                .isInstanceOf(CorruptImageException.class).hasMessageContaining("not cluster aligned");
    }

    @Test
    void refcountTableRules() {
        assertThatThrownBy(() -> decode(b -> b.putLong(48, 0x1000000)))
                .isInstanceOf(CorruptImageException.class).hasMessageContaining("refcount table")
                .hasMessageContaining("past the end");
        assertThatThrownBy(() -> decode(b -> b.putLong(48, 0x10008)))
                .isInstanceOf(CorruptImageException.class).hasMessageContaining("not cluster aligned");
        assertThatThrownBy(() -> decode(b -> b.putInt(56, 0x100000)))
                .isInstanceOf(CorruptImageException.class).hasMessageContaining("refcount table size");
        assertThatThrownBy(() -> decode(b -> b.putInt(56, 0)))
                .isInstanceOf(CorruptImageException.class).hasMessageContaining("refcount table size");
    }

    @Test
    void tooManySnapshots() {
        assertThatThrownBy(() -> decode(b -> b.putInt(60, 65537)))
                .isInstanceOf(CorruptImageException.class).hasMessageContaining("too many snapshots");
    }

    @Test
    void refcountOrderOutOfRange() {
        assertThatThrownBy(() -> decode(b -> b.putInt(96, 7)))
                .isInstanceOf(CorruptImageException.class).hasMessageContaining("refcount_order 7");
    }

    @Test
    void unknownIncompatibleFeatureIsNamedFromTheTable() {
        byte[] table = new byte[48];
        table[0] = 0;
        table[1] = 9;
        System.arraycopy("future magic".getBytes(), 0, table, 2, 12);
        Header h = valid().withExtensions(List.of(new HeaderExtension(HeaderExtension.FEATURE_NAME_TABLE, table)))
                .withFeatures(1L << 9, 0, 0);
        assertThatThrownBy(() -> Header.decode(FILE, cluster(h.encode()), FILE_SIZE))
                .isInstanceOf(UnsupportedFeatureException.class).hasMessageContaining("'future magic' (bit 9)");
    }

    @Test
    void unknownIncompatibleFeatureWithoutName() {
        assertThatThrownBy(() -> decode(b -> b.putLong(72, 1L << 40)))
                .isInstanceOf(UnsupportedFeatureException.class).hasMessageContaining("unknown feature bit 40");
    }

    @Test
    void encryptionAndDataFileAreUnsupported() {
        assertThatThrownBy(() -> decode(b -> b.putInt(32, 1)))
                .isInstanceOf(UnsupportedFeatureException.class).hasMessageContaining("encrypted");
        assertThatThrownBy(() -> decode(b -> b.putLong(72, Header.INCOMPAT_DATA_FILE)))
                .isInstanceOf(UnsupportedFeatureException.class).hasMessageContaining("external data file");
    }

    /**
     * Extended L2 entries are 16 bytes, so an L2 table maps half as much: 1 GiB with 64 KiB
     * clusters needs 4 L1 entries instead of 2 (as qemu-img creates it).
     */
    @Test
    void extendedL2EntriesHalveWhatAnL2TableMaps() throws Exception {
        Header h = decode(b -> b.putLong(72, Header.INCOMPAT_EXTENDED_L2).putInt(36, 4));
        assertThat(h.hasExtendedL2()).isTrue();
        Geometry g = h.geometry();
        assertThat(g.extendedL2()).isTrue();
        assertThat(g.l2EntryBytes()).isEqualTo(16);
        assertThat(g.l2Entries()).isEqualTo(4096);
        assertThat(g.l2TableWords()).isEqualTo(8192);
        assertThat(g.l2CoverageBits()).isEqualTo(28);
        assertThat(g.subclusterSize()).isEqualTo(2048);
        assertThat(g.subclusterIndex(0x10000 + 3 * 2048 + 5)).isEqualTo(3);
        assertThat(valid().geometry().l2Entries()).isEqualTo(8192);
        assertThatThrownBy(() -> decode(b -> b.putLong(72, Header.INCOMPAT_EXTENDED_L2)))
                .isInstanceOf(CorruptImageException.class).hasMessageContaining("L1 table too small: l1_size 2")
                .hasMessageContaining("needs 4");
    }

    /** QEMU refuses subclusters smaller than a sector: extended L2 entries need 16 KiB clusters. */
    @Test
    void extendedL2NeedsClustersOfAtLeast16KiB() throws Exception {
        assertThatThrownBy(() -> decode(b -> b.putLong(72, Header.INCOMPAT_EXTENDED_L2).putInt(20, 13)))
                .isInstanceOf(UnsupportedFeatureException.class)
                .hasMessageContaining("unsupported subcluster size: 256 bytes").hasMessageContaining("cluster_bits at 0x14");
        Header h = decode(b -> b.putLong(72, Header.INCOMPAT_EXTENDED_L2).putInt(20, 14).putInt(36, 64));
        assertThat(h.geometry().subclusterSize()).isEqualTo(512);
    }

    /** Every open for writing asks the header first; extended L2 images are read-only. */
    @Test
    void extendedL2ImagesAreNotWritable() throws Exception {
        Header h = decode(b -> b.putLong(72, Header.INCOMPAT_EXTENDED_L2).putInt(36, 4));
        assertThatThrownBy(() -> h.checkWritable(FILE)).isInstanceOf(UnsupportedFeatureException.class)
                .hasMessage("test.qcow2: extended L2 entries (subclusters) are supported read-only");
        valid().checkWritable(FILE);
    }

    @Test
    void compressionTypeMustMatchItsBit() {
        assertThatThrownBy(() -> decode(b -> b.put(104, (byte) 1)))
                .isInstanceOf(CorruptImageException.class).hasMessageContaining("compression type");
        assertThatThrownBy(() -> decode(b -> b.put(104, (byte) 7).putLong(72, Header.INCOMPAT_COMPRESSION)))
                .isInstanceOf(UnsupportedFeatureException.class).hasMessageContaining("compression type 7");
    }

    @Test
    void backingNameRules() {
        Header h = valid().withBacking("base.qcow2", "qcow2");
        ByteBuffer b = cluster(h.encode());
        b.putInt(16, 1024);
        assertThatThrownBy(() -> Header.decode(FILE, b, FILE_SIZE))
                .isInstanceOf(CorruptImageException.class).hasMessageContaining("backing file name too long");
        ByteBuffer c = cluster(h.encode());
        c.putLong(8, 65530);
        assertThatThrownBy(() -> Header.decode(FILE, c, FILE_SIZE))
                .isInstanceOf(CorruptImageException.class).hasMessageContaining("outside the header cluster");
    }

    @Test
    void aZeroLengthBackingNameIsNoBackingFileWhereverItPoints() throws Exception {
        // QEMU reads backing_file_size bytes at backing_file_offset: none is an empty name,
        // which it treats as no backing file (the CLI's QemuImgParityIT compares with qemu-img).
        Header h = valid().withBacking("base.qcow2", "qcow2");
        ByteBuffer b = cluster(h.encode());
        b.putInt(16, 0);
        assertThat(Header.decode(FILE, b, FILE_SIZE).backingFileName()).isNull();
        ByteBuffer far = cluster(h.encode());
        far.putInt(16, 0).putLong(8, 1L << 40);
        assertThat(Header.decode(FILE, far, FILE_SIZE).backingFileName()).isNull();
    }

    @Test
    void virtualSizeTooLarge() {
        assertThatThrownBy(() -> decode(b -> b.putLong(24, -1L)))
                .isInstanceOf(CorruptImageException.class).hasMessageContaining("virtual size");
    }

    @Test
    void messagesAreOneLineAndNameTheFile() {
        assertThatThrownBy(() -> decode(b -> b.putInt(20, 30)))
                .hasMessageStartingWith("test.qcow2: ").hasMessageNotContaining("\n");
    }
}
