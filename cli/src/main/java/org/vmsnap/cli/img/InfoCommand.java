package org.vmsnap.cli.img;

import java.io.IOException;
import java.util.List;

import org.vmsnap.cli.HelpCommand;
import org.vmsnap.qcow2.ImageChain;
import org.vmsnap.qcow2.ImageInfo;
import org.vmsnap.qcow2.Images;
import org.vmsnap.qcow2.OpenOptions;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code img info}: what qemu-img info prints, human or JSON, optionally for the whole chain. */
@Command(name = "info", description = "Show information about an image (as qemu-img info).",
        customSynopsis = "vmsnap img info [-f fmt] [--output=ofmt] [--backing-chain] [-U] filename",
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap img info disk.qcow2",
                "  vmsnap img info --output=json --backing-chain overlay.qcow2"})
final class InfoCommand extends ImgSubcommand {

    @Option(names = {"-f", "--format"}, paramLabel = "fmt",
            description = "Image format (qcow2 or raw); probed when absent.")
    String format;

    @Option(names = "--output", paramLabel = "human|json", defaultValue = "human",
            description = "human (default) or json.")
    String output;

    @Option(names = {"-U", "--force-share"}, description = "Open without locks (the image may be in use).")
    boolean forceShare;

    @Option(names = "--backing-chain", description = "Show every image of the backing chain.")
    boolean backingChain;

    @Parameters(paramLabel = "filename")
    String file;

    @Override
    public Integer call() throws IOException {
        boolean json = isJson(output);
        OpenOptions options = new OpenOptions(true, forceShare, false, format);
        List<ImageInfo> chain = backingChain
                ? ImageChain.describe(path(file), options).stream().map(ImageChain.Member::info).toList()
                : List.of(Images.info(path(file), options));
        if (json) {
            out().println(backingChain ? InfoFormat.json(chain) : InfoFormat.json(chain.getFirst()).toPrettyString());
        } else {
            for (int i = 0; i < chain.size(); i++) {
                if (i > 0) {
                    out().println();
                }
                out().print(InfoFormat.human(chain.get(i)));
            }
        }
        return 0;
    }
}
