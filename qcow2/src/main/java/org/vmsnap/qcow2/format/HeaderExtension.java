package org.vmsnap.qcow2.format;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One header extension: type and raw data, kept byte for byte so that extensions vmsnap
 * does not interpret (bitmaps, unknown types) survive a header rewrite unchanged.
 */
public record HeaderExtension(int type, byte[] data) {

    public static final int END = 0x00000000;
    public static final int BACKING_FORMAT = 0xe2792aca;
    public static final int FEATURE_NAME_TABLE = 0x6803f857;
    public static final int BITMAPS = 0x23852875;
    public static final int FULL_DISK_ENCRYPTION = 0x0537be77;
    public static final int EXTERNAL_DATA_FILE = 0x44415441;

    public HeaderExtension {
        data = data.clone();
    }

    @Override
    public byte[] data() {
        return data.clone();
    }

    public int length() {
        return data.length;
    }

    /** Bytes this extension takes in the header: 8 bytes of type and length, data padded to 8. */
    public int encodedLength() {
        return 8 + ((data.length + 7) & ~7);
    }

    public void encodeTo(ByteBuffer out) {
        out.putInt(type).putInt(data.length).put(data);
        int pad = ((data.length + 7) & ~7) - data.length;
        out.put(new byte[pad]);
    }

    public static HeaderExtension backingFormat(String format) {
        return new HeaderExtension(BACKING_FORMAT, format.getBytes(StandardCharsets.UTF_8));
    }

    /** A feature-name table entry: type (0 incompatible, 1 compatible, 2 autoclear), bit, name. */
    public record FeatureName(int kind, int bit, String name) {
    }

    /** QEMU's own table of known features, written on create like qemu-img does. */
    public static HeaderExtension standardFeatureTable() {
        List<FeatureName> names = List.of(
                new FeatureName(0, 0, "dirty bit"),
                new FeatureName(0, 1, "corrupt bit"),
                new FeatureName(0, 2, "external data file"),
                new FeatureName(0, 3, "compression type"),
                new FeatureName(0, 4, "extended L2 entries"),
                new FeatureName(1, 0, "lazy refcounts"),
                new FeatureName(2, 0, "bitmaps"),
                new FeatureName(2, 1, "raw external data"));
        ByteBuffer b = ByteBuffer.allocate(names.size() * 48);
        for (FeatureName n : names) {
            b.put((byte) n.kind()).put((byte) n.bit());
            byte[] name = Arrays.copyOf(n.name().getBytes(StandardCharsets.UTF_8), 46);
            b.put(name);
        }
        return new HeaderExtension(FEATURE_NAME_TABLE, b.array());
    }

    /** Decodes a feature-name table's entries (48 bytes each; a trailing partial entry is ignored). */
    public List<FeatureName> featureNames() {
        List<FeatureName> out = new ArrayList<>();
        for (int i = 0; i + 48 <= data.length; i += 48) {
            int end = i + 2;
            while (end < i + 48 && data[end] != 0) {
                end++;
            }
            out.add(new FeatureName(data[i] & 0xff, data[i + 1] & 0xff,
                    new String(data, i + 2, end - i - 2, StandardCharsets.UTF_8)));
        }
        return out;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof HeaderExtension e && e.type == type && Arrays.equals(e.data, data);
    }

    @Override
    public int hashCode() {
        return type * 31 + Arrays.hashCode(data);
    }

    @Override
    public String toString() {
        return "HeaderExtension[type=0x" + Integer.toHexString(type) + ", length=" + data.length + "]";
    }
}
