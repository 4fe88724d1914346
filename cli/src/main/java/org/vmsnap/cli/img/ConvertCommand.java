package org.vmsnap.cli.img;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.util.ArrayList;
import java.util.List;

import org.vmsnap.cli.CliException;
import org.vmsnap.cli.ErrorMessages;
import org.vmsnap.cli.HelpCommand;
import org.vmsnap.qcow2.BlockDevice;
import org.vmsnap.qcow2.CacheMode;
import org.vmsnap.qcow2.ImageCopy;
import org.vmsnap.qcow2.ImageFiles;
import org.vmsnap.qcow2.ImageWriteback;
import org.vmsnap.qcow2.Images;
import org.vmsnap.qcow2.OpenOptions;
import org.vmsnap.qcow2.Progress;
import org.vmsnap.qcow2.Qcow2Image;
import org.vmsnap.qcow2.RawImage;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code img convert}: copies an image into a new qcow2 or raw image, leaving zeros out so
 * the output stays sparse. With {@code -B} the output gets a backing file and only the
 * input's own top layer is copied (the backing file must hold what the input's backing
 * chain holds: qemu-img has the same rule and does not check it either).
 */
@Command(name = "convert", description = "Convert an image to another format (as qemu-img convert).",
        customSynopsis = {"vmsnap img convert [-U] [-c] [-p] [-q] [-n] [-W] [-m num] [-f fmt] [-t cache] [-T src_cache]",
                "                          [-O output_fmt]",
                "                          [-B backing_file [-F backing_fmt]] [-o options]",
                "                          [-l snapshot_param] filename output_filename"},
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap img convert -p -O qcow2 disk.raw disk.qcow2",
                "  vmsnap img convert -c -O qcow2 -o compression_type=zstd disk.qcow2 z.qcow2",
                "  vmsnap img convert -l before-upgrade -O raw disk.qcow2 then.raw"})
final class ConvertCommand extends ImgSubcommand {

    @Option(names = {"-f"}, paramLabel = "fmt", description = "Input format; probed when absent.")
    String inputFormat;

    @Option(names = {"-O"}, paramLabel = "output_fmt", defaultValue = "raw",
            description = "Output format: raw (default) or qcow2.")
    String outputFormat;

    @Option(names = {"-o"}, paramLabel = "options",
            description = "Options of the output format, name=value,...; '-o help' lists them.")
    List<String> optionLists = new ArrayList<>();

    @Option(names = {"-c"}, description = "Compress the output clusters (qcow2).")
    boolean compress;

    @Option(names = {"-p"}, description = "Show progress.")
    boolean progress;

    @Option(names = {"-U", "--force-share"}, description = "Open without locks (the image may be in use); read-only.")
    boolean forceShare;

    @Option(names = {"-B"}, paramLabel = "backing_file", description = "Backing file of the output.")
    String backingFile;

    @Option(names = {"-F"}, paramLabel = "backing_fmt", description = "Format of the output's backing file.")
    String backingFormat;

    @Option(names = {"-t"}, paramLabel = "cache", description = CACHE_HELP)
    String cache;

    @Option(names = {"-T"}, paramLabel = "src_cache", description = SOURCE_CACHE_HELP)
    String sourceCache;

    @Option(names = {"-q", "--quiet"}, description = "Print nothing but errors.")
    boolean quiet;

    @Option(names = {"-n"}, description = "Skip the creation of the target image: write into an existing one.")
    boolean noCreate;

    @Option(names = {"-m"}, paramLabel = "num",
            description = "Writes (or compressions with -c) in flight at once, 1..16 (default "
                    + ImageCopy.DEFAULT_THREADS + ").")
    String parallel;

    @Option(names = {"-W"}, description = "Allow out-of-order writes. Accepted for qemu-img's command lines: "
            + "vmsnap always lets its parallel writes end in any order, and allocates the target's clusters "
            + "in disk order either way.")
    boolean outOfOrder;

    @Option(names = {"-l"}, paramLabel = "snapshot_param",
            description = "Convert an internal snapshot of the input: snapshot.id=ID, snapshot.name=NAME, or an id or name.")
    String snapshotParam;

    @Parameters(index = "0", paramLabel = "filename")
    String input;

    @Parameters(index = "1", paramLabel = "output_filename")
    String output;

    @Override
    public Integer call() throws IOException {
        sourceCacheOption(sourceCache, 1); // before the input is opened, as qemu-img does
        if (CreateOptions.wantsHelp(optionLists)) {
            out().print(CreateOptions.help(outputFormat));
            return 0;
        }
        CreateOptions options = CreateOptions.parse(output, outputFormat, optionLists);
        if (backingFile != null) {
            options.set("backing_file", backingFile);
        }
        if (backingFormat != null) {
            options.set("backing_fmt", backingFormat);
        }
        boolean hasBacking = options.has("backing_file");
        if (hasBacking && "raw".equals(outputFormat)) {
            throw new CliException("Backing file not supported for file format 'raw'");
        }
        if (hasBacking && options.get("backing_fmt") == null) {
            throw new CliException("Use of backing file requires explicit backing format");
        }
        if (compress && "raw".equals(outputFormat)) {
            throw new CliException("Compression not supported for this file format");
        }
        int threads = threads();
        if (noCreate && (hasBacking || !optionLists.isEmpty())) {
            throw new CliException("-n cannot be combined with -o or -B: the target already exists");
        }
        try (BlockDevice opened = openReadOnly(input, inputFormat, forceShare);
             BlockDevice source = snapshotParam == null ? opened : snapshotOf(opened)) {
            // After the input opened, as qemu-img; unlike qemu-img 7.2, before the output exists
            // (it creates the output first and leaves it behind on a bad -t).
            CacheMode cacheMode = cacheOption(cache);
            if (!noCreate) {
                target().checkCreatable();
            }
            long size = source.size();
            Progress bar = ProgressBar.of(progress && !quiet, out());
            ImageCopy.CopyOptions copy = hasBacking ? ImageCopy.CopyOptions.topLayerOntoBackedImage()
                    : ImageCopy.CopyOptions.wholeChainToNewImage();
            if (noCreate) {
                copy = copy.withTargetNotZeroed();
            }
            if (compress) {
                copy = copy.withCompression();
            }
            copy = copy.withThreads(threads);
            if (noCreate) {
                try (BlockDevice target = openTarget()) {
                    target.useCacheMode(cacheMode);
                    try (ImageWriteback w = ImageWriteback.forCacheMode(cacheMode, target.path())) {
                        ImageCopy.copy(source, target, copy, bar);
                    }
                }
            } else {
                copyToNew(source, options, size, copy, bar, cacheMode);
            }
            ProgressBar.finish(bar);
        }
        return 0;
    }

    /**
     * Copies into a target this command creates. If the copy fails, the half-written target
     * is removed (it is this command's own file; a process that opened it meanwhile keeps it).
     */
    private void copyToNew(BlockDevice source, CreateOptions options, long size, ImageCopy.CopyOptions copy,
            Progress bar, CacheMode cacheMode) throws IOException {
        BlockDevice target;
        Object made;
        try {
            target = createTarget(options, size); // refuses an existing output: nothing to clean up
        } catch (FileSystemException e) {
            throw target().creating(e);
        }
        try {
            made = ImageFiles.fileKey(path(output)); // held and locked by this command now
        } catch (IOException e) {
            target.close();
            throw e;
        }
        try {
            try (target; ImageWriteback w = ImageWriteback.forCacheMode(cacheMode, target.path())) {
                target.useCacheMode(cacheMode);
                ImageCopy.copy(source, target, copy, bar);
            }
        } catch (IOException | RuntimeException e) {
            try {
                if (ImageFiles.deleteMadeFile(path(output), made)) {
                    throw new CliException(1, ErrorMessages.of(e) + " (the incomplete " + output + " was removed)", e);
                }
            } catch (IOException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
    }

    /** {@code -m}, checked as qemu-img checks it (its words). */
    private int threads() {
        if (parallel == null) {
            return ImageCopy.DEFAULT_THREADS;
        }
        int n;
        try {
            n = Integer.parseInt(parallel);
        } catch (NumberFormatException e) {
            n = 0;
        }
        if (n < 1 || n > ImageCopy.MAX_THREADS) {
            throw new CliException("Invalid number of coroutines. Allowed number of coroutines is between 1 and "
                    + ImageCopy.MAX_THREADS);
        }
        return n;
    }

    /** The output file, with qemu-img's words for failing to create it. */
    private TargetFile target() {
        return new TargetFile(output, "error while converting " + outputFormat + ": ");
    }

    /** {@code -n}: the existing target, opened read-write in the -O format. */
    private BlockDevice openTarget() throws IOException {
        return Images.open(path(output), OpenOptions.readWrite().withFormat(outputFormat));
    }

    /** With -l: a read-only view of the input's snapshot (closed before the input). */
    private BlockDevice snapshotOf(BlockDevice device) throws IOException {
        if (!(device instanceof Qcow2Image image)) {
            throw new CliException("Failed to load snapshot: " + device.format() + " images have no internal snapshots");
        }
        String id = SnapshotParam.resolve(image, snapshotParam);
        if (id == null) {
            throw new CliException("Failed to load snapshot: Can't find snapshot");
        }
        return image.readSnapshot(id);
    }

    private BlockDevice createTarget(CreateOptions options, long size) throws IOException {
        if ("raw".equals(outputFormat)) {
            options.checkRaw();
            Images.createRaw(path(output), size);
            return RawImage.open(path(output), OpenOptions.readWrite().withFormat("raw"));
        }
        return Qcow2Image.create(path(output), options.toQcow2(size));
    }
}
