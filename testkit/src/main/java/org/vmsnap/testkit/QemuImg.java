package org.vmsnap.testkit;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * {@code qemu-img} as a test oracle. Every method fails with an AssertionError carrying the
 * command line and both outputs when the tool fails in a way the caller did not ask about.
 *
 * <p>Formats are always passed explicitly ({@code -f}), so a broken qcow2 header is never
 * silently probed as raw.
 */
public final class QemuImg {

    private static final ObjectMapper JSON = new ObjectMapper();

    private QemuImg() {
    }

    /** Outcome of {@code qemu-img check}: exit code (0 clean, 1 failed, 2 corrupt, 3 leaks), JSON when printed. */
    public record CheckOutcome(int exitCode, JsonNode json, String stderr) {

        /** True when qemu-img found nothing at all (exit 0). */
        public boolean clean() {
            return exitCode == 0;
        }
    }

    /**
     * {@code qemu-img create -f format [-o options] path size}.
     *
     * @param options {@code key=value} strings such as {@code "compat=0.10"}, {@code "cluster_size=512"},
     *                {@code "backing_file=base.qcow2"}, {@code "backing_fmt=qcow2"}
     */
    public static void create(Path path, String format, long sizeBytes, String... options) {
        List<String> args = new ArrayList<>(List.of("create", "-q", "-f", format));
        if (options.length > 0) {
            args.add("-o");
            args.add(String.join(",", options));
        }
        args.add(path.toString());
        args.add(Long.toString(sizeBytes));
        run(args);
    }

    /** {@code qemu-img create -f qcow2 -b backing -F backingFormat overlay}: size taken from the backing file. */
    public static void createOverlay(Path overlay, Path backing, String backingFormat, String... options) {
        List<String> args = new ArrayList<>(List.of("create", "-q", "-f", "qcow2",
                "-b", backing.toString(), "-F", backingFormat));
        if (options.length > 0) {
            args.add("-o");
            args.add(String.join(",", options));
        }
        args.add(overlay.toString());
        run(args);
    }

    /** {@code qemu-img info --output=json -f format path}. */
    public static JsonNode infoJson(Path path, String format) {
        return parse(run(List.of("info", "--output=json", "-f", format, path.toString())));
    }

    /** {@code qemu-img info --output=json -f qcow2 path}. */
    public static JsonNode infoJson(Path path) {
        return infoJson(path, "qcow2");
    }

    /** {@code qemu-img info --output=json --backing-chain -f qcow2 path}: a JSON array, top image first. */
    public static JsonNode infoChainJson(Path path) {
        return parse(run(List.of("info", "--output=json", "--backing-chain", "-f", "qcow2", path.toString())));
    }

    /**
     * {@code qemu-img check --output=json -f qcow2 path}, whatever it finds: exit 2
     * (corruptions) and 3 (leaks) still print the JSON report, which is returned; exit 1
     * (the check itself failed, e.g. the image does not open) has no JSON and
     * {@code json()} is null.
     */
    public static CheckOutcome check(Path path, String... extraArgs) {
        List<String> args = new ArrayList<>(List.of("check", "--output=json", "-f", "qcow2"));
        args.addAll(Arrays.asList(extraArgs));
        args.add(path.toString());
        QemuTools.Result r = QemuTools.run(command(args));
        JsonNode json = null;
        if (!r.stdout().isBlank()) {
            json = parseText(r, r.stdout());
        }
        if (json == null && r.exitCode() != 1) {
            throw new AssertionError(r.describe("exited with " + r.exitCode() + " but printed no JSON"));
        }
        return new CheckOutcome(r.exitCode(), json, r.stderr());
    }

    /**
     * The JSON report of {@code qemu-img check}, also for exit codes 2 and 3.
     *
     * @throws AssertionError when the check could not run at all (exit 1)
     */
    public static JsonNode checkJson(Path path) {
        CheckOutcome outcome = check(path);
        if (outcome.json() == null) {
            throw new AssertionError("qemu-img check " + path + " failed (exit " + outcome.exitCode() + "): "
                    + outcome.stderr());
        }
        return outcome.json();
    }

    /** {@code qemu-img map --output=json -f format path}: a JSON array of extents. */
    public static JsonNode mapJson(Path path, String format) {
        return parse(run(List.of("map", "--output=json", "-f", format, path.toString())));
    }

    /** {@code qemu-img map --output=json -f qcow2 path}. */
    public static JsonNode mapJson(Path path) {
        return mapJson(path, "qcow2");
    }

    /**
     * {@code qemu-img compare -f fmtA -F fmtB a b}: 0 when the guest-visible contents are
     * equal, 1 when they differ.
     *
     * @throws AssertionError when compare itself fails (exit 2 or more)
     */
    public static int compare(Path a, String formatA, Path b, String formatB) {
        return compareResult(a, formatA, b, formatB).exitCode();
    }

    /** {@link #compare(Path, String, Path, String)} with both formats qcow2. */
    public static int compare(Path a, Path b) {
        return compare(a, "qcow2", b, "qcow2");
    }

    /** Fails, quoting qemu-img's "Content mismatch at offset N!", unless {@code a} and {@code b} read the same. */
    public static void assertSameContent(Path a, String formatA, Path b, String formatB) {
        QemuTools.Result r = compareResult(a, formatA, b, formatB);
        if (r.exitCode() != 0) {
            throw new AssertionError("expected " + a + " (" + formatA + ") and " + b + " (" + formatB
                    + ") to read the same: " + r.stdout().strip());
        }
    }

    private static QemuTools.Result compareResult(Path a, String formatA, Path b, String formatB) {
        QemuTools.Result r = QemuTools.run(command(List.of("compare", "-f", formatA, "-F", formatB,
                a.toString(), b.toString())));
        if (r.exitCode() > 1) {
            throw new AssertionError(r.describe("failed with " + r.exitCode()));
        }
        return r;
    }

    /**
     * {@code qemu-img convert -f srcFormat -O dstFormat [extraArgs] src dst}; extraArgs go
     * before the file names (e.g. {@code "-c"}, {@code "-o", "compat=0.10"}, {@code "-B", base}).
     */
    public static void convert(Path src, String srcFormat, Path dst, String dstFormat, String... extraArgs) {
        List<String> args = new ArrayList<>(List.of("convert", "-f", srcFormat, "-O", dstFormat));
        args.addAll(Arrays.asList(extraArgs));
        args.add(src.toString());
        args.add(dst.toString());
        run(args);
    }

    /** The {@code snapshots} array of {@code qemu-img info}, empty when the image has none. */
    public static JsonNode snapshotList(Path path) {
        JsonNode snapshots = infoJson(path).get("snapshots");
        return snapshots == null ? JsonNodeFactory.instance.arrayNode() : snapshots;
    }

    /** {@code qemu-img snapshot -c name path}. */
    public static void snapshotCreate(Path path, String name) {
        run(List.of("snapshot", "-c", name, path.toString()));
    }

    /** {@code qemu-img snapshot -a name path}. */
    public static void snapshotApply(Path path, String name) {
        run(List.of("snapshot", "-a", name, path.toString()));
    }

    /** {@code qemu-img snapshot -d name path}. */
    public static void snapshotDelete(Path path, String name) {
        run(List.of("snapshot", "-d", name, path.toString()));
    }

    /** {@code qemu-img rebase -u -f qcow2 -b backing -F backingFormat path}: rewrites the name only. */
    public static void rebaseUnsafe(Path path, String backing, String backingFormat) {
        run(List.of("rebase", "-u", "-f", "qcow2", "-b", backing, "-F", backingFormat, path.toString()));
    }

    /** {@code qemu-img resize -f format [--shrink] path size}. */
    public static void resize(Path path, String format, long newSizeBytes) {
        run(List.of("resize", "-q", "-f", format, "--shrink", path.toString(), Long.toString(newSizeBytes)));
    }

    /** Runs {@code qemu-img args...} and requires exit code 0. */
    public static QemuTools.Result run(List<String> args) {
        return QemuTools.run(command(args)).requireSuccess();
    }

    /** Runs {@code qemu-img args...} and returns whatever happened. */
    public static QemuTools.Result runUnchecked(List<String> args) {
        return QemuTools.run(command(args));
    }

    private static List<String> command(List<String> args) {
        List<String> command = new ArrayList<>(args.size() + 1);
        command.add(QemuTools.qemuImg().toString());
        command.addAll(args);
        return command;
    }

    private static JsonNode parse(QemuTools.Result r) {
        return parseText(r, r.stdout());
    }

    private static JsonNode parseText(QemuTools.Result r, String text) {
        try {
            return JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw new AssertionError(r.describe("printed no valid JSON: " + e.getOriginalMessage()), e);
        }
    }
}
