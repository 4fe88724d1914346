package org.vmsnap.cli.img;

import java.io.IOException;

import org.vmsnap.cli.CliException;
import org.vmsnap.cli.ErrorMessages;
import org.vmsnap.cli.HelpCommand;
import org.vmsnap.qcow2.BlockDevice;
import org.vmsnap.qcow2.ImageCompare;
import org.vmsnap.qcow2.Progress;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code img compare}: exit 0 identical, 1 different, 2 an image could not be opened, 4 an I/O error. */
@Command(name = "compare", description = "Check whether two images read the same (as qemu-img compare).",
        customSynopsis = {"vmsnap img compare [-f fmt] [-F fmt] [-T src_cache] [-p] [-q] [-s] [-U]",
                "                          filename1 filename2"},
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap img compare disk.qcow2 copy.raw   # exit 0 identical, 1 different",
                "  vmsnap img compare -s a.qcow2 b.qcow2"})
final class CompareCommand extends ImgSubcommand {

    static final int EXIT_OPEN_FAILED = 2;
    static final int EXIT_IO_ERROR = 4;

    @Option(names = {"-f"}, paramLabel = "fmt", description = "Format of the first image.")
    String format1;

    @Option(names = {"-F"}, paramLabel = "fmt", description = "Format of the second image.")
    String format2;

    @Option(names = {"-s"}, description = "Strict: sizes and allocation must match too.")
    boolean strict;

    @Option(names = {"-U", "--force-share"}, description = "Open without locks (the image may be in use); read-only.")
    boolean forceShare;

    @Option(names = {"-p"}, description = "Show progress.")
    boolean progress;

    @Option(names = {"-T"}, paramLabel = "src_cache", description = SOURCE_CACHE_HELP)
    String sourceCache;

    @Option(names = {"-q", "--quiet"}, description = "Print nothing but errors.")
    boolean quiet;

    @Parameters(index = "0", paramLabel = "filename1")
    String file1;

    @Parameters(index = "1", paramLabel = "filename2")
    String file2;

    @Override
    public Integer call() throws IOException {
        sourceCacheOption(sourceCache, EXIT_OPEN_FAILED); // qemu-img compare: exit 2
        try (BlockDevice first = open(file1, format1); BlockDevice second = open(file2, format2)) {
            Progress bar = ProgressBar.of(progress && !quiet, ProgressBar.WIDE_STEP_PERCENT, out());
            ImageCompare.Result result;
            try {
                result = ImageCompare.compare(first, second, strict, bar);
            } catch (IOException e) {
                ProgressBar.end(bar);
                throw new CliException(EXIT_IO_ERROR, ErrorMessages.of(e), e);
            }
            if (!quiet) {
                out().print(message(result));
            }
            // qemu-img ends the bar's line after the verdict, not before it.
            ProgressBar.end(bar);
            out().flush();
            return result.exitCode();
        }
    }

    private BlockDevice open(String file, String format) {
        try {
            return openReadOnly(file, format, forceShare);
        } catch (IOException | RuntimeException e) {
            throw new CliException(EXIT_OPEN_FAILED, ErrorMessages.of(e), e);
        }
    }

    static String message(ImageCompare.Result r) {
        String warning = r.sizesDiffer() ? "Warning: Image size mismatch!\n" : "";
        return warning + switch (r.outcome()) {
            case IDENTICAL -> "Images are identical.\n";
            case CONTENT_MISMATCH -> "Content mismatch at offset " + r.offset() + "!\n";
            case SIZE_MISMATCH -> "Strict mode: Image size mismatch!\n";
            case BLOCK_STATUS_MISMATCH -> "Strict mode: Offset " + r.offset() + " block status mismatch!\n";
        };
    }
}
