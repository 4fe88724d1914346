package org.vmsnap.cli.img;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.vmsnap.cli.CliException;
import org.vmsnap.cli.format.SizeArg;
import org.vmsnap.qcow2.Qcow2CreateOptions;

/**
 * The {@code -o name=value,...} options of {@code img create} and {@code img convert}, read
 * as qemu-img reads them: ",," is a literal comma, a later value wins, unknown names are
 * refused. Checking happens in qemu-img's two stages: the syntax of each value before the
 * "Formatting ..." line, the meaning of the combination after it.
 */
final class CreateOptions {

    /** Options vmsnap implements, per format, in qemu-img's help order. */
    static final Map<String, String> QCOW2_HELP = helpQcow2();
    static final Map<String, String> RAW_HELP = Map.of(
            "preallocation", "<str>    - Preallocation mode (allowed values: off)",
            "size", "<size>            - Virtual disk size");

    /** QEMU's qcow2 options vmsnap does not implement: refused by name rather than as unknown. */
    private static final Set<String> QCOW2_UNSUPPORTED = Set.of("data_file", "data_file_raw", "encryption",
            "encrypt.format", "encrypt.key-secret", "encrypt.cipher-alg", "encrypt.cipher-mode",
            "encrypt.ivgen-alg", "encrypt.ivgen-hash-alg", "encrypt.hash-alg", "encrypt.iter-time");

    private static final Set<String> QCOW2_OPTIONS = QCOW2_HELP.keySet();

    private final String file;
    private final String format;
    private final Map<String, String> values;

    private CreateOptions(String file, String format, Map<String, String> values) {
        this.file = file;
        this.format = format;
        this.values = values;
    }

    /**
     * Parses the joined -o lists for an image of {@code format} ("qcow2" or "raw").
     *
     * @param lists each -o argument as given (several are joined with commas)
     */
    static CreateOptions parse(String file, String format, List<String> lists) {
        if (!"qcow2".equals(format) && !"raw".equals(format)) {
            throw new CliException(file + ": Unknown file format '" + format + "' (vmsnap creates qcow2 and raw)");
        }
        Map<String, String> values = new LinkedHashMap<>();
        for (String list : lists) {
            for (String item : splitList(list)) {
                int eq = item.indexOf('=');
                String name = eq < 0 ? item : item.substring(0, eq);
                String value = eq < 0 ? "on" : item.substring(eq + 1);
                values.put(name, value);
            }
        }
        CreateOptions options = new CreateOptions(file, format, values);
        options.checkNames();
        return options;
    }

    /** True when one of the lists asks for the option help ("help" or "?"). */
    static boolean wantsHelp(List<String> lists) {
        for (String list : lists) {
            for (String item : list.split(",")) {
                if (item.equals("help") || item.equals("?")) {
                    return true;
                }
            }
        }
        return false;
    }

    static String help(String format) {
        StringBuilder sb = new StringBuilder("Supported " + format + " options:\n");
        ("qcow2".equals(format) ? QCOW2_HELP : RAW_HELP).entrySet().stream()
                .sorted(Map.Entry.comparingByKey())
                .forEach(e -> sb.append("  ").append(e.getKey()).append('=').append(e.getValue()).append('\n'));
        return sb.toString();
    }

    /** Splits at single commas; ",," stands for a comma inside a value. */
    static List<String> splitList(String list) {
        List<String> items = new ArrayList<>();
        StringBuilder item = new StringBuilder();
        for (int i = 0; i < list.length(); i++) {
            char c = list.charAt(i);
            if (c == ',' && i + 1 < list.length() && list.charAt(i + 1) == ',') {
                item.append(',');
                i++;
            } else if (c == ',') {
                items.add(item.toString());
                item.setLength(0);
            } else {
                item.append(c);
            }
        }
        items.add(item.toString());
        for (String s : items) {
            if (s.isEmpty() || s.startsWith("=")) {
                throw new CliException("Invalid option list: " + list);
            }
        }
        return items;
    }

    private void checkNames() {
        Set<String> known = "qcow2".equals(format) ? QCOW2_OPTIONS : RAW_HELP.keySet();
        for (String name : values.keySet()) {
            if ("qcow2".equals(format) && QCOW2_UNSUPPORTED.contains(name)) {
                throw new CliException(file + ": Parameter '" + name + "' is not supported by vmsnap");
            }
            if (!known.contains(name)) {
                throw new CliException(file + ": Invalid parameter '" + name + "'");
            }
        }
        // Syntax of every value, before anything is printed.
        sizeOption("size");
        if ("qcow2".equals(format)) {
            sizeOption("cluster_size");
            numberOption("refcount_bits");
            boolOption("lazy_refcounts");
            boolOption("extended_l2");
        }
    }

    String get(String name) {
        return values.get(name);
    }

    boolean has(String name) {
        return values.containsKey(name);
    }

    void set(String name, String value) {
        values.put(name, value);
    }

    /** -o size, or -1. */
    long size() {
        Long v = sizeOption("size");
        return v == null ? -1 : v;
    }

    private Long sizeOption(String name) {
        String v = values.get(name);
        if (v == null) {
            return null;
        }
        try {
            long size = SizeArg.parse(v);
            if (size < 0) {
                throw new IllegalArgumentException();
            }
            return size;
        } catch (IllegalArgumentException e) {
            throw new CliException(file + ": Parameter '" + name + "' expects a non-negative number below 2^64");
        }
    }

    private Long numberOption(String name) {
        String v = values.get(name);
        if (v == null) {
            return null;
        }
        try {
            return Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw new CliException(file + ": Parameter '" + name + "' expects a number");
        }
    }

    private Boolean boolOption(String name) {
        String v = values.get(name);
        if (v == null) {
            return null;
        }
        return switch (v) {
            case "on", "yes", "true", "y" -> true;
            case "off", "no", "false", "n" -> false;
            default -> throw new CliException(file + ": Parameter '" + name + "' expects 'on' or 'off'");
        };
    }

    /**
     * qemu-img's "Formatting ..." line: the format's options in its fixed order, each with
     * the value given (numbers parsed) or its default.
     */
    String formattingLine(long sizeBytes) {
        StringBuilder sb = new StringBuilder("Formatting '").append(file).append("', fmt=").append(format);
        if ("raw".equals(format)) {
            sb.append(" size=").append(sizeBytes);
            appendIfSet(sb, "preallocation");
            return sb.toString();
        }
        sb.append(" cluster_size=").append(has("cluster_size") ? sizeOption("cluster_size")
                : Qcow2CreateOptions.DEFAULT_CLUSTER_SIZE);
        sb.append(" extended_l2=").append(values.getOrDefault("extended_l2", "off"));
        appendIfSet(sb, "preallocation");
        sb.append(" compression_type=").append(values.getOrDefault("compression_type", "zlib"));
        sb.append(" size=").append(sizeBytes);
        appendIfSet(sb, "compat");
        appendIfSet(sb, "backing_file");
        appendIfSet(sb, "backing_fmt");
        sb.append(" lazy_refcounts=").append(values.getOrDefault("lazy_refcounts", "off"));
        sb.append(" refcount_bits=").append(has("refcount_bits") ? numberOption("refcount_bits")
                : Qcow2CreateOptions.DEFAULT_REFCOUNT_BITS);
        return sb.toString();
    }

    private void appendIfSet(StringBuilder sb, String name) {
        if (has(name)) {
            // QEMU prints string values with commas doubled, as they are typed.
            sb.append(' ').append(name).append('=').append(values.get(name).replace(",", ",,"));
        }
    }

    /** Raw files: only sparse ("off") creation. */
    void checkRaw() {
        String prealloc = values.get("preallocation");
        if (prealloc != null && !prealloc.equals("off")) {
            if (Set.of("falloc", "full").contains(prealloc)) {
                throw new CliException(file + ": preallocation mode '" + prealloc + "' is not supported by vmsnap");
            }
            throw new CliException(file + ": Unsupported preallocation mode: " + prealloc);
        }
    }

    /** The meaning of the qcow2 options, checked with qemu's messages; the create options to use. */
    Qcow2CreateOptions toQcow2(long sizeBytes) {
        long clusterSize = has("cluster_size") ? sizeOption("cluster_size") : Qcow2CreateOptions.DEFAULT_CLUSTER_SIZE;
        if (clusterSize < 512 || clusterSize > (2 << 20) || Long.bitCount(clusterSize) != 1) {
            throw new CliException(file + ": Cluster size must be a power of two between 512 and 2048k");
        }
        String compatValue = values.getOrDefault("compat", "1.1");
        String compat = switch (compatValue) {
            case "0.10", "v2" -> "0.10";
            case "1.1", "v3" -> "1.1";
            default -> throw new CliException(file + ": Parameter 'version' does not accept value '" + compatValue + "'");
        };
        boolean v3 = compat.equals("1.1");
        String compression = values.getOrDefault("compression_type", "zlib");
        if (!compression.equals("zlib") && !compression.equals("zstd")) {
            throw new CliException(file + ": Parameter 'compression-type' does not accept value '" + compression + "'");
        }
        String prealloc = values.getOrDefault("preallocation", "off");
        switch (prealloc) {
            case "off", "metadata" -> { }
            case "falloc", "full" -> throw new CliException(file + ": preallocation mode '" + prealloc
                    + "' is not supported by vmsnap (off and metadata are)");
            default -> throw new CliException(file + ": Parameter 'preallocation' does not accept value '"
                    + prealloc + "'");
        }
        long refcountBits = has("refcount_bits") ? numberOption("refcount_bits") : Qcow2CreateOptions.DEFAULT_REFCOUNT_BITS;
        if (refcountBits < 1 || refcountBits > 64 || Long.bitCount(refcountBits) != 1) {
            throw new CliException(file + ": Refcount width must be a power of two and may not exceed 64 bits");
        }
        boolean lazy = Boolean.TRUE.equals(boolOption("lazy_refcounts"));
        if (!v3 && lazy) {
            throw new CliException(file + ": Lazy refcounts only supported with compatibility level 1.1 and above"
                    + " (use version=v3 or greater)");
        }
        if (!v3 && refcountBits != 16) {
            throw new CliException(file + ": Different refcount widths than 16 bits require compatibility level 1.1"
                    + " or above (use version=v3 or greater)");
        }
        if (!v3 && !compression.equals("zlib")) {
            throw new CliException(file + ": Non-zlib compression type is only supported with compatibility level 1.1"
                    + " and above (use version=v3 or greater)");
        }
        if (Boolean.TRUE.equals(boolOption("extended_l2"))) {
            // vmsnap reads such images but never writes them, so it does not make them either.
            throw new CliException(file + ": extended_l2=on is not supported by vmsnap: extended L2 entries"
                    + " (subclusters) are supported read-only (qemu-img can create such an image)");
        }
        String backing = values.get("backing_file");
        if (backing != null && !prealloc.equals("off")) {
            throw new CliException(file + ": Backing file and preallocation can only be used at the same time"
                    + " if extended_l2 is on");
        }
        return Qcow2CreateOptions.ofSize(sizeBytes)
                .withClusterSize((int) clusterSize)
                .withRefcountBits((int) refcountBits)
                .withCompat(compat)
                .withBacking(backing, values.get("backing_fmt"))
                .withLazyRefcounts(lazy)
                .withPreallocation(prealloc)
                .withCompressionType(compression);
    }

    private static Map<String, String> helpQcow2() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("backing_file", "<str>     - File name of a base image");
        m.put("backing_fmt", "<str>      - Image format of the base image");
        m.put("cluster_size", "<size>    - qcow2 cluster size");
        m.put("compat", "<str>           - Compatibility level (v2 [0.10] or v3 [1.1])");
        m.put("compression_type", "<str> - Compression method used for image cluster compression");
        m.put("extended_l2", "<bool (on/off)> - Extended L2 tables (only off)");
        m.put("lazy_refcounts", "<bool (on/off)> - Postpone refcount updates");
        m.put("preallocation", "<str>    - Preallocation mode (allowed values: off, metadata)");
        m.put("refcount_bits", "<num>    - Width of a reference count entry in bits");
        m.put("size", "<size>            - Virtual disk size");
        return m;
    }
}
