package org.vmsnap.cli.img;

import java.io.IOException;
import java.io.PrintWriter;

import org.vmsnap.cli.CliException;
import org.vmsnap.cli.HelpCommand;
import org.vmsnap.cli.format.CFormat;
import org.vmsnap.qcow2.BlockDevice;
import org.vmsnap.qcow2.BlockStatus;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code img map}: where each range of the disk comes from, as qemu-img map prints it.
 * Runs with the same status (and contiguous host offsets) merge into one entry. The human
 * layout lists only ranges backed by plain data and refuses compressed ones, because it
 * cannot name a host offset for them; JSON lists everything.
 */
@Command(name = "map", description = "Show the allocation map of an image (as qemu-img map).",
        customSynopsis = {"vmsnap img map [-f fmt] [--start-offset=offset] [--max-length=len]",
                "                      [--output=ofmt] [-U] filename"},
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap img map disk.qcow2",
                "  vmsnap img map --output=json --start-offset=1M --max-length=64k disk.qcow2"})
final class MapCommand extends ImgSubcommand {

    @Option(names = {"-f", "--format"}, paramLabel = "fmt",
            description = "Image format (qcow2 or raw); probed when absent.")
    String format;

    @Option(names = "--output", paramLabel = "human|json", defaultValue = "human",
            description = "human (default) or json.")
    String output;

    @Option(names = {"-U", "--force-share"}, description = "Open without locks (the image may be in use); read-only.")
    boolean forceShare;

    @Option(names = "--start-offset", paramLabel = "offset", defaultValue = "0",
            description = "Map from this guest offset (default 0).")
    String startOffset;

    @Option(names = "--max-length", paramLabel = "len", description = "Map at most this many bytes.")
    String maxLength;

    @Parameters(paramLabel = "filename")
    String file;

    /** One merged entry: guest range, its status, and where it started. */
    private record Entry(long start, BlockStatus status) {
        long end() {
            return start + status.lengthBytes();
        }
    }

    @Override
    public Integer call() throws IOException {
        boolean json = isJson(output);
        long start = parseOffset("--start-offset", startOffset);
        try (BlockDevice device = openReadOnly(file, format, forceShare)) {
            long end = device.size();
            if (maxLength != null) {
                end = Math.min(end, Math.addExact(start, parseOffset("--max-length", maxLength)));
            }
            PrintWriter out = out();
            out.print(json ? "[" : "Offset          Length          Mapped to       File\n");
            if (start >= end) {
                if (json) {
                    // qemu-img prints its empty first entry for an empty range.
                    out.print("{ \"start\": " + start + ", \"length\": 0, \"depth\": 0, \"present\": false,"
                            + " \"zero\": false, \"data\": false}");
                }
            } else {
                Entry current = null;
                long offset = start;
                while (offset < end) {
                    BlockStatus next = device.blockStatus(offset, end - offset);
                    if (next.lengthBytes() > end - offset) {
                        next = next.withLength(end - offset);
                    }
                    if (current != null && next.continues(current.status())) {
                        current = new Entry(current.start(), current.status()
                                .withLength(current.status().lengthBytes() + next.lengthBytes()));
                    } else {
                        if (current != null) {
                            print(out, current, json, true);
                        }
                        current = new Entry(offset, next);
                    }
                    offset += next.lengthBytes();
                }
                print(out, current, json, false);
            }
            out.print(json ? "]\n" : "");
            out.flush();
        }
        return 0;
    }

    private void print(PrintWriter out, Entry e, boolean json, boolean more) {
        BlockStatus s = e.status();
        if (json) {
            out.print("{ \"start\": " + e.start() + ", \"length\": " + s.lengthBytes() + ", \"depth\": " + s.depth()
                    + ", \"present\": " + s.present() + ", \"zero\": " + s.zero() + ", \"data\": " + s.data()
                    + (s.hostOffset() >= 0 ? ", \"offset\": " + s.hostOffset() : "") + "}");
            if (more) {
                out.print(",\n");
            }
            return;
        }
        if (s.data() && s.hostOffset() < 0) {
            out.flush();
            throw new CliException("File contains external, encrypted or compressed clusters.");
        }
        if (s.data() && !s.zero()) {
            out.print(CFormat.padRight(CFormat.hexAlt(e.start()), 16) + CFormat.padRight(CFormat.hexAlt(s.lengthBytes()), 16)
                    + CFormat.padRight(CFormat.hexAlt(s.hostOffset()), 16) + (s.file() != null ? s.file() : "") + "\n");
        }
    }

    private static long parseOffset(String option, String text) {
        try {
            long v = org.vmsnap.cli.format.SizeArg.parse(text);
            if (v < 0) {
                throw new IllegalArgumentException();
            }
            return v;
        } catch (IllegalArgumentException e) {
            throw new CliException("Invalid " + option + " specified: " + text);
        }
    }
}
