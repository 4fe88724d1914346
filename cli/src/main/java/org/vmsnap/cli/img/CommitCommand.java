package org.vmsnap.cli.img;

import java.io.IOException;

import org.vmsnap.cli.HelpCommand;
import org.vmsnap.qcow2.CacheMode;
import org.vmsnap.qcow2.ImageCommit;
import org.vmsnap.qcow2.Progress;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code img commit}: writes an overlay's data into its backing file (or into {@code -b
 * BASE} further down, which implies {@code -d}) and empties the overlay unless {@code -d}.
 */
@Command(name = "commit", description = "Commit an overlay's data into its backing file (as qemu-img commit).",
        customSynopsis = "vmsnap img commit [-q] [-f fmt] [-t cache] [-b base] [-d] [-p] filename",
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap img commit -p overlay.qcow2     # into its backing file, then empty it",
                "  vmsnap img commit -b base.qcow2 top.qcow2"})
final class CommitCommand extends ImgSubcommand {

    @Option(names = {"-f", "--format"}, paramLabel = "fmt", description = "Format of the overlay; probed when absent.")
    String format;

    @Option(names = {"-b"}, paramLabel = "base",
            description = "Commit into this member of the backing chain (implies -d).")
    String base;

    @Option(names = {"-d"}, description = "Do not empty the overlay after the commit.")
    boolean drop;

    @Option(names = {"-p", "--progress"}, description = "Show progress.")
    boolean progress;

    @Option(names = {"-t"}, paramLabel = "cache", description = CACHE_HELP)
    String cache;

    @Option(names = {"-q", "--quiet"}, description = "Print nothing but errors.")
    boolean quiet;

    @Parameters(paramLabel = "filename")
    String file;

    @Override
    public Integer call() throws IOException {
        CacheMode cacheMode = cacheOption(cache);
        Progress bar = ProgressBar.of(progress && !quiet, out());
        ImageCommit.commit(path(file), format, base, drop || base != null, bar, cacheMode);
        ProgressBar.finish(bar);
        if (!quiet) {
            out().println("Image committed.");
        }
        return 0;
    }
}
