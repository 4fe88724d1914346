package org.vmsnap.cli.img;

import java.io.IOException;
import java.nio.file.Path;

import org.vmsnap.cli.CliException;
import org.vmsnap.cli.HelpCommand;
import org.vmsnap.cli.format.CFormat;
import org.vmsnap.cli.format.QemuJson;
import org.vmsnap.qcow2.CheckResult;
import org.vmsnap.qcow2.Images;
import org.vmsnap.qcow2.Qcow2Image;
import org.vmsnap.qcow2.RepairMode;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code img check}: qemu-img check's report and exit codes (0 clean, 1 check failed,
 * 2 corruptions, 3 leaks only, 63 format without checks). The findings, one per line,
 * go to stderr as qemu-img prints them there.
 */
@Command(name = "check", description = "Check an image for consistency (as qemu-img check).",
        customSynopsis = {"vmsnap img check [-q] [-f fmt] [--output=ofmt] [-r [leaks | all]] [-T src_cache]",
                "                        [-U]",
                "                        filename"},
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap img check disk.qcow2      # exit 0 clean, 2 corrupt, 3 leaks, 1 failed",
                "  vmsnap img check -r leaks disk.qcow2   # give leaked clusters back"})
final class CheckCommand extends ImgSubcommand {

    /** qemu-img check's exit code for a format that has no consistency check (raw). */
    static final int EXIT_NOT_SUPPORTED = 63;

    @Option(names = {"-f", "--format"}, paramLabel = "fmt",
            description = "Image format (qcow2 or raw); probed when absent.")
    String format;

    @Option(names = {"-r", "--repair"}, paramLabel = "leaks|all", description = "Repair leaks, or all errors.")
    String repair;

    @Option(names = "--output", paramLabel = "human|json", defaultValue = "human",
            description = "human (default) or json.")
    String output;

    @Option(names = {"-U", "--force-share"}, description = "Open without locks (the image may be in use); read-only.")
    boolean forceShare;

    @Option(names = {"-T"}, paramLabel = "src_cache", description = SOURCE_CACHE_HELP)
    String sourceCache;

    @Option(names = {"-q", "--quiet"}, description = "Print nothing but errors.")
    boolean quiet;

    @Parameters(paramLabel = "filename")
    String file;

    @Override
    public Integer call() throws IOException {
        RepairMode mode = repairMode(repair);
        boolean json = isJson(output);
        sourceCacheOption(sourceCache, 1);
        Path path = path(file);
        String fmt = format != null ? format : Images.probeFormat(path);
        switch (fmt) {
            case "qcow2" -> { }
            case "raw" -> throw new CliException(EXIT_NOT_SUPPORTED, "This image format does not support checks");
            default -> throw new CliException("Unknown file format '" + fmt + "'");
        }
        // -U needs no work here: check opens the file itself, read-only unless it repairs.
        CheckResult result = Qcow2Image.check(path, mode);
        for (String line : result.messages()) {
            err().println(line);
        }
        err().flush();
        if (result.failed()) {
            // qemu-img prints no report then, only its reason (QEMU's check returns EIO).
            throw new CliException(1, "Check failed: Input/output error");
        }
        if (!quiet) {
            out().print(json ? json(file, result).toPrettyString() + "\n" : human(result));
        }
        return result.exitCode();
    }

    static RepairMode repairMode(String repair) {
        if (repair == null) {
            return RepairMode.NONE;
        }
        return switch (repair) {
            case "leaks" -> RepairMode.LEAKS;
            case "all" -> RepairMode.ALL;
            default -> throw new CliException("Unknown option value for -r (expecting 'leaks' or 'all'): " + repair);
        };
    }

    /** The ImageCheck object: optional members only when non-zero, as qemu-img fills them. */
    static QemuJson json(String filename, CheckResult r) {
        return new QemuJson()
                .put("filename", filename)
                .put("format", "qcow2")
                .put("check-errors", r.checkErrors())
                .putIf(r.imageEndOffsetBytes() != 0, "image-end-offset", r.imageEndOffsetBytes())
                .putIf(r.corruptions() != 0, "corruptions", r.corruptions())
                .putIf(r.leaks() != 0, "leaks", r.leaks())
                .putIf(r.corruptionsFixed() != 0, "corruptions-fixed", r.corruptionsFixed())
                .putIf(r.leaksFixed() != 0, "leaks-fixed", r.leaksFixed())
                .putIf(r.totalClusters() != 0, "total-clusters", r.totalClusters())
                .putIf(r.allocatedClusters() != 0, "allocated-clusters", r.allocatedClusters())
                .putIf(r.fragmentedClusters() != 0, "fragmented-clusters", r.fragmentedClusters())
                .putIf(r.compressedClusters() != 0, "compressed-clusters", r.compressedClusters());
    }

    static String human(CheckResult r) {
        StringBuilder sb = new StringBuilder();
        if (r.corruptionsFixed() != 0 || r.leaksFixed() != 0) {
            sb.append("The following inconsistencies were found and repaired:\n\n")
                    .append("    ").append(r.leaksFixed()).append(" leaked clusters\n")
                    .append("    ").append(r.corruptionsFixed()).append(" corruptions\n\n")
                    .append("Double checking the fixed image now...\n");
        }
        if (r.corruptions() == 0 && r.leaks() == 0 && r.checkErrors() == 0) {
            sb.append("No errors were found on the image.\n");
        } else {
            if (r.corruptions() != 0) {
                sb.append('\n').append(r.corruptions()).append(" errors were found on the image.\n")
                        .append("Data may be corrupted, or further writes to the image may corrupt it.\n");
            }
            if (r.leaks() != 0) {
                sb.append('\n').append(r.leaks()).append(" leaked clusters were found on the image.\n")
                        .append("This means waste of disk space, but no harm to data.\n");
            }
            if (r.checkErrors() != 0) {
                sb.append('\n').append(r.checkErrors()).append(" internal errors have occurred during the check.\n");
            }
        }
        if (r.totalClusters() != 0 && r.allocatedClusters() != 0) {
            sb.append(r.allocatedClusters()).append('/').append(r.totalClusters()).append(" = ")
                    .append(CFormat.fixed(r.allocatedClusters() * 100.0 / r.totalClusters(), 2)).append("% allocated, ")
                    .append(CFormat.fixed(r.fragmentedClusters() * 100.0 / r.allocatedClusters(), 2)).append("% fragmented, ")
                    .append(CFormat.fixed(r.compressedClusters() * 100.0 / r.allocatedClusters(), 2))
                    .append("% compressed clusters\n");
        }
        if (r.imageEndOffsetBytes() != 0) {
            sb.append("Image end offset: ").append(r.imageEndOffsetBytes()).append('\n');
        }
        return sb.toString();
    }
}
