package org.vmsnap.cli.format;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * JSON exactly as QEMU prints it: pretty-printed with four-space indents, and object
 * members in the order of QEMU's hash table (QDict), not in the order they were added.
 * QDict keeps 512 buckets, picks one with a fixed string hash and puts a new key at the
 * head of its bucket, then iterates bucket by bucket; {@link #bucket} reproduces the hash.
 * Members must be added in the QAPI schema's order so that keys sharing a bucket come out
 * in QEMU's order too.
 *
 * <p>A few dozen lines instead of a JSON library keeps start-up lean and the format exact.
 */
public final class QemuJson {

    private static final int QDICT_BUCKETS = 512;

    private final List<Member> members = new ArrayList<>();

    private record Member(String key, Object value, int insertion) {
    }

    /** Adds a member: String, Long, Integer, Boolean, QemuJson or List of QemuJson. */
    public QemuJson put(String key, Object value) {
        members.add(new Member(key, value, members.size()));
        return this;
    }

    /** Adds a member only when the condition holds (QAPI's optional "has_" members). */
    public QemuJson putIf(boolean present, String key, Object value) {
        return present ? put(key, value) : this;
    }

    /** The members in QEMU's output order, for layouts that walk the same dictionary. */
    public List<java.util.Map.Entry<String, Object>> membersInOrder() {
        return qdictOrder().stream().map(m -> java.util.Map.entry(m.key, m.value)).toList();
    }

    /** Pretty JSON without a trailing newline. */
    public String toPrettyString() {
        StringBuilder sb = new StringBuilder();
        writeValue(sb, this, 0);
        return sb.toString();
    }

    /** A pretty JSON array of objects, as {@code qemu-img info --backing-chain} prints it. */
    public static String toPrettyString(List<QemuJson> list) {
        StringBuilder sb = new StringBuilder();
        writeValue(sb, list, 0);
        return sb.toString();
    }

    /** QDict's bucket for a key: the "tdb" string hash, then a linear congruential scramble. */
    static int bucket(String key) {
        byte[] bytes = key.getBytes(StandardCharsets.UTF_8);
        int value = 0x238F13AF * bytes.length;
        for (int i = 0; i < bytes.length; i++) {
            value += (bytes[i] & 0xff) << (i * 5 % 24);
        }
        int hash = 1103515243 * value + 12345;
        return (int) (Integer.toUnsignedLong(hash) % QDICT_BUCKETS);
    }

    private List<Member> qdictOrder() {
        List<Member> sorted = new ArrayList<>(members);
        sorted.sort((a, b) -> {
            int byBucket = Integer.compare(bucket(a.key), bucket(b.key));
            // Inside a bucket the newest key comes first.
            return byBucket != 0 ? byBucket : Integer.compare(b.insertion, a.insertion);
        });
        return sorted;
    }

    private static void writeValue(StringBuilder sb, Object value, int depth) {
        switch (value) {
            case QemuJson obj -> {
                List<Member> ordered = obj.qdictOrder();
                if (ordered.isEmpty()) {
                    sb.append("{}");
                    return;
                }
                sb.append('{');
                for (int i = 0; i < ordered.size(); i++) {
                    sb.append(i == 0 ? "\n" : ",\n");
                    indent(sb, depth + 1);
                    quote(sb, ordered.get(i).key);
                    sb.append(": ");
                    writeValue(sb, ordered.get(i).value, depth + 1);
                }
                sb.append('\n');
                indent(sb, depth);
                sb.append('}');
            }
            case List<?> list -> {
                if (list.isEmpty()) {
                    sb.append("[]");
                    return;
                }
                sb.append('[');
                for (int i = 0; i < list.size(); i++) {
                    sb.append(i == 0 ? "\n" : ",\n");
                    indent(sb, depth + 1);
                    writeValue(sb, list.get(i), depth + 1);
                }
                sb.append('\n');
                indent(sb, depth);
                sb.append(']');
            }
            case String s -> quote(sb, s);
            case Boolean b -> sb.append(b ? "true" : "false");
            case Long l -> sb.append(l);
            case Integer n -> sb.append(n);
            default -> throw new IllegalArgumentException("unsupported JSON value: " + value.getClass());
        }
    }

    private static void indent(StringBuilder sb, int depth) {
        sb.append(" ".repeat(4 * depth));
    }

    /** QEMU's string quoting: everything outside printable ASCII as an upper-case \\u escape. */
    public static void quote(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20 || c >= 0x7f) {
                        // UTF-16 code units are exactly QEMU's surrogate pairs beyond the BMP.
                        sb.append(String.format(java.util.Locale.ROOT, "\\u%04X", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }
}
