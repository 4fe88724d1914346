package org.vmsnap.testkit;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * {@code qemu-io} as a test writer and checker: {@code qemu-io -f fmt -c cmd -c cmd ... path}.
 *
 * <p>qemu-io reports most problems on stdout ("write failed: Input/output error",
 * "Pattern verification failed at offset 0, 4096 bytes", "length cannot exceed 2147483136
 * without -n") and older versions exit 0 after them, so {@link #run} looks at the text too
 * and fails loudly instead of letting a test continue on a write that never happened.
 *
 * <p>One command moves at most 2147483136 bytes; the {@code *Commands} builders split longer
 * ranges into several commands (pattern writes into smaller pieces, because qemu-io
 * allocates a buffer as large as the request).
 */
public final class QemuIo {

    /** Largest piece for {@code write -z} and {@code discard}: below qemu-io's 2147483136-byte limit. */
    static final long MAX_UNBUFFERED_PIECE_BYTES = 1L << 30;
    /** Largest piece for {@code write -P} and {@code read -P}: qemu-io allocates this much memory. */
    static final long MAX_BUFFERED_PIECE_BYTES = 64L << 20;

    private static final Pattern FAILURE = Pattern.compile(
            "failed|error|cannot|invalid|not supported|no such|usage:", Pattern.CASE_INSENSITIVE);

    private static final Pattern HEX_DUMP_LINE = Pattern.compile("(?m)^[0-9a-f]{8}:  .*$");

    private QemuIo() {
    }

    /** Runs the commands on {@code path} opened as {@code format}; returns stdout, fails on any error output. */
    public static String run(Path path, String format, String... commands) {
        return run(path, format, List.of(commands));
    }

    /** Runs the commands on {@code path} opened as {@code format}; returns stdout, fails on any error output. */
    public static String run(Path path, String format, List<String> commands) {
        if (commands.isEmpty()) {
            throw new IllegalArgumentException("no qemu-io commands for " + path);
        }
        List<String> command = new ArrayList<>();
        command.add(QemuTools.qemuIo().toString());
        command.add("-f");
        command.add(format);
        for (String c : commands) {
            command.add("-c");
            command.add(c);
        }
        command.add(path.toString());
        QemuTools.Result r = QemuTools.run(command);
        if (r.exitCode() != 0 || !r.stderr().isBlank() || FAILURE.matcher(withoutHexDump(r.stdout())).find()) {
            throw new AssertionError(r.describe("reported a failure (exit " + r.exitCode() + ")"));
        }
        return r.stdout();
    }

    /** Drops the lines of {@code read -v} dumps, whose ASCII column may spell anything. */
    private static String withoutHexDump(String stdout) {
        return HEX_DUMP_LINE.matcher(stdout).replaceAll("");
    }

    /** Writes {@code pattern} bytes over the range ({@code write -P}). */
    public static void writePattern(Path path, String format, long offset, long length, int pattern) {
        run(path, format, writePatternCommands(offset, length, pattern));
    }

    /** Makes the range read as zeros ({@code write -z}). */
    public static void writeZeroes(Path path, String format, long offset, long length) {
        run(path, format, writeZeroesCommands(offset, length));
    }

    /** Discards the range ({@code discard}); what it reads afterwards is described in {@link ReferenceDisk#discard}. */
    public static void discard(Path path, String format, long offset, long length) {
        run(path, format, discardCommands(offset, length));
    }

    /** Fails unless every byte of the range reads as {@code pattern} ({@code read -P}). */
    public static void verifyPattern(Path path, String format, long offset, long length, int pattern) {
        run(path, format, readPatternCommands(offset, length, pattern));
    }

    /** {@code write -P pattern off len} commands, split into pieces qemu-io accepts. */
    public static List<String> writePatternCommands(long offset, long length, int pattern) {
        return split("write -P " + patternByte(pattern), offset, length, MAX_BUFFERED_PIECE_BYTES);
    }

    /** {@code read -P pattern off len} commands, split into pieces qemu-io accepts. */
    public static List<String> readPatternCommands(long offset, long length, int pattern) {
        return split("read -P " + patternByte(pattern), offset, length, MAX_BUFFERED_PIECE_BYTES);
    }

    /** {@code write -z off len} commands, split into pieces qemu-io accepts. */
    public static List<String> writeZeroesCommands(long offset, long length) {
        return split("write -z", offset, length, MAX_UNBUFFERED_PIECE_BYTES);
    }

    /** {@code discard off len} commands, split into pieces qemu-io accepts. */
    public static List<String> discardCommands(long offset, long length) {
        return split("discard", offset, length, MAX_UNBUFFERED_PIECE_BYTES);
    }

    private static List<String> split(String verb, long offset, long length, long maxPiece) {
        if (offset < 0 || length <= 0) {
            throw new IllegalArgumentException(verb + ": bad range offset=" + offset + " length=" + length);
        }
        List<String> commands = new ArrayList<>();
        long end = Math.addExact(offset, length);
        for (long at = offset; at < end; at += maxPiece) {
            commands.add(verb + " " + at + " " + Math.min(maxPiece, end - at));
        }
        return commands;
    }

    private static String patternByte(int pattern) {
        if (pattern < 0 || pattern > 0xff) {
            throw new IllegalArgumentException("pattern is one byte, got " + pattern);
        }
        return String.format(Locale.ROOT, "0x%02x", pattern);
    }
}
