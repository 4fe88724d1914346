package org.vmsnap.cli.img;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.vmsnap.cli.CliException;
import org.vmsnap.qcow2.ImageInfo;
import org.vmsnap.qcow2.Images;
import org.vmsnap.qcow2.OpenOptions;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code img info}: what qemu-img info prints, human or JSON, optionally for the whole chain. */
@Command(name = "info", description = "Show information about an image (as qemu-img info).")
final class InfoCommand extends ImgSubcommand {

    /** Guards --backing-chain against cycles the image names could form. */
    static final int MAX_CHAIN_DEPTH = 64;

    @Option(names = {"-f", "--format"}, paramLabel = "fmt", description = "Image format (qcow2 or raw); probed when absent.")
    String format;

    @Option(names = "--output", paramLabel = "human|json", defaultValue = "human")
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
        List<ImageInfo> chain = new ArrayList<>();
        ImageInfo info = Images.info(path(file), new OpenOptions(true, forceShare, false, format));
        chain.add(info);
        Set<Path> seen = new HashSet<>();
        seen.add(realPath(path(file)));
        while (backingChain && info.fullBackingFilename() != null) {
            Path backing = Path.of(info.fullBackingFilename());
            if (info.backingFilenameFormat() == null) {
                throw new CliException(info.filename() + ": the backing file format is not recorded in the image;"
                        + " vmsnap does not probe the format of backing files");
            }
            if (!seen.add(realPath(backing)) || chain.size() >= MAX_CHAIN_DEPTH) {
                throw new CliException(info.filename() + ": backing chain loops or is deeper than "
                        + MAX_CHAIN_DEPTH + " images at '" + backing + "'");
            }
            info = Images.info(backing, new OpenOptions(true, forceShare, false, info.backingFilenameFormat()));
            chain.add(info);
        }
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

    private static Path realPath(Path p) {
        try {
            return p.toRealPath();
        } catch (IOException e) {
            return p.toAbsolutePath().normalize();   // opening it will report the problem
        }
    }
}
