package org.vmsnap.cli.img;

import java.io.IOException;

import org.vmsnap.cli.CliException;
import org.vmsnap.cli.HelpCommand;
import org.vmsnap.qcow2.CacheMode;
import org.vmsnap.qcow2.ImageRebase;
import org.vmsnap.qcow2.Progress;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code img rebase}: another backing file for an image. Safe mode copies into the image
 * whatever the old and new backing chains show differently, so the guest sees the same
 * disk; {@code -u} only rewrites the header; {@code -b ""} flattens the image.
 */
@Command(name = "rebase", description = "Change the backing file of an image (as qemu-img rebase).",
        customSynopsis = {"vmsnap img rebase [-q] [-f fmt] [-t cache] [-T src_cache] [-p] [-u] -b backing_file",
                "                         [-F backing_fmt] filename"},
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap img rebase -b new-base.qcow2 -F qcow2 overlay.qcow2",
                "  vmsnap img rebase -u -b renamed-base.qcow2 -F qcow2 overlay.qcow2",
                "  vmsnap img rebase -b \"\" overlay.qcow2          # flatten: no backing file"})
final class RebaseCommand extends ImgSubcommand {

    @Option(names = {"-f", "--format"}, paramLabel = "fmt", description = "Format of the image; probed when absent.")
    String format;

    @Option(names = {"-b", "--backing"}, paramLabel = "backing_file",
            description = "The new backing file (relative to the image's folder); \"\" for none.")
    String backing;

    @Option(names = {"-F", "--backing-format"}, paramLabel = "backing_fmt",
            description = "Format of the new backing file.")
    String backingFormat;

    @Option(names = {"-u"}, description = "Unsafe: only rewrite the backing file name and format.")
    boolean unsafe;

    @Option(names = {"-p", "--progress"}, description = "Show progress.")
    boolean progress;

    @Option(names = {"-t"}, paramLabel = "cache", description = CACHE_HELP)
    String cache;

    @Option(names = {"-T"}, paramLabel = "src_cache", description = SOURCE_CACHE_HELP)
    String sourceCache;

    @Option(names = {"-q", "--quiet"}, description = "Print nothing but errors.")
    boolean quiet;

    @Parameters(paramLabel = "filename")
    String file;

    @Override
    public Integer call() throws IOException {
        if (backing == null && !unsafe) {
            throw new CliException("Must specify backing file (-b) or use unsafe mode (-u)");
        }
        CacheMode cacheMode = cacheOption(cache);
        sourceCacheOption(sourceCache, 1);
        Progress bar = ProgressBar.of(progress && !quiet && !unsafe, ProgressBar.WIDE_STEP_PERCENT, out());
        ImageRebase.rebase(path(file), format, backing, backingFormat, unsafe, bar, cacheMode);
        ProgressBar.finish(bar);
        return 0;
    }
}
