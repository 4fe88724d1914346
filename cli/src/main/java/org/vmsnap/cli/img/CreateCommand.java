package org.vmsnap.cli.img;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.vmsnap.cli.CliException;
import org.vmsnap.cli.ErrorMessages;
import org.vmsnap.cli.HelpCommand;
import org.vmsnap.cli.format.SizeArg;
import org.vmsnap.qcow2.BackingChainException;
import org.vmsnap.qcow2.BlockDevice;
import org.vmsnap.qcow2.ImageFiles;
import org.vmsnap.qcow2.Images;
import org.vmsnap.qcow2.OpenOptions;
import org.vmsnap.qcow2.Qcow2CreateOptions;
import org.vmsnap.qcow2.Qcow2Image;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code img create}: a new qcow2 or raw image, announced with qemu-img's "Formatting"
 * line. Unlike qemu-img it never overwrites an existing file, and it prints that line only
 * once every check passed (qemu-img prints it before checking the option values).
 */
@Command(name = "create", description = "Create a new image (as qemu-img create).",
        customSynopsis = {"vmsnap img create [-q] [-f fmt] [-b backing_file [-F backing_fmt]] [-u]",
                "                         [-o options] filename [size]"},
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap img create -f qcow2 disk.qcow2 10G",
                "  vmsnap img create -f qcow2 -o cluster_size=4k,refcount_bits=64 disk.qcow2 10G",
                "  vmsnap img create -f qcow2 -b disk.qcow2 -F qcow2 overlay.qcow2",
                "  vmsnap img create -f qcow2 -o help        # the options of a format"})
final class CreateCommand extends ImgSubcommand {

    @Option(names = {"-f", "--format"}, paramLabel = "fmt", defaultValue = "raw",
            description = "Format of the new image: raw (default) or qcow2.")
    String format;

    @Option(names = {"-b", "--backing"}, paramLabel = "backing_file",
            description = "Backing file of the new image (relative to its folder).")
    String backingFile;

    @Option(names = {"-F", "--backing-format"}, paramLabel = "backing_fmt",
            description = "Format of the backing file (required with -b).")
    String backingFormat;

    @Option(names = {"-o", "--options"}, paramLabel = "options",
            description = "Format options, name=value,...; '-o help' lists them.")
    List<String> optionLists = new ArrayList<>();

    @Option(names = {"-u"}, description = "Do not open the backing file (it need not exist yet).")
    boolean unsafe;

    @Option(names = {"-q", "--quiet"}, description = "Print nothing but errors.")
    boolean quiet;

    @Parameters(index = "0", paramLabel = "filename", arity = "0..1")
    String file;

    @Parameters(index = "1", paramLabel = "size", arity = "0..1")
    String sizeText;

    @Override
    public Integer call() throws IOException {
        if (CreateOptions.wantsHelp(optionLists)) {
            out().print(CreateOptions.help(format));
            return 0;
        }
        if (file == null) {
            throw new CliException("Expecting image file name");
        }
        long size = -1;
        if (sizeText != null) {
            try {
                size = SizeArg.parse(sizeText);
            } catch (IllegalArgumentException e) {
                throw new CliException(e.getMessage());
            }
        }
        CreateOptions options = CreateOptions.parse(file, format, optionLists);
        if (options.has("size") && size >= 0) {
            throw new CliException(file + ": The image size must be specified only once");
        }
        if (size < 0) {
            size = options.size();
        }
        if (backingFile != null) {
            options.set("backing_file", backingFile);
        }
        if (backingFormat != null) {
            options.set("backing_fmt", backingFormat);
        }
        String backing = options.get("backing_file");
        if (backing != null || options.has("backing_fmt")) {
            if ("raw".equals(format)) {
                throw new CliException(file + ": Backing file not supported for file format 'raw'");
            }
            if (backing == null) {
                throw new CliException(file + ": Backing format cannot be used without backing file");
            }
            if (options.get("backing_fmt") == null) {
                throw new CliException(file + ": Backing file specified without backing format");
            }
            if (!unsafe) {
                long backingSize = backingSize(backing, options.get("backing_fmt"));
                size = size < 0 ? backingSize : size;
            }
        }
        if (size < 0) {
            throw new CliException(file + ": Image creation needs a size parameter");
        }
        Qcow2CreateOptions qcow2 = "raw".equals(format) ? null : checked(options.toQcow2(size));
        if (qcow2 == null) {
            options.checkRaw();
        }
        TargetFile target = new TargetFile(file, "");
        target.checkCreatable();
        // Only now, when nothing is left to refuse: qemu-img announces the image before it
        // checks the option values, and then fails after "Formatting ...".
        if (!quiet) {
            out().println(options.formattingLine(size));
            out().flush();
        }
        try {
            if (qcow2 == null) {
                Images.createRaw(path(file), size);
            } else {
                Qcow2Image image = Qcow2Image.create(path(file), qcow2); // removes its file if it fails
                Object made = ImageFiles.fileKey(path(file)); // held and locked by this command now
                try {
                    try (image) {
                        image.flush();
                    }
                } catch (IOException | RuntimeException e) {
                    // the file is this command's and unfinished: not left under its final name
                    try {
                        ImageFiles.deleteMadeFile(path(file), made);
                    } catch (IOException cleanup) {
                        e.addSuppressed(cleanup);
                    }
                    throw e;
                }
            }
        } catch (FileSystemException e) {
            throw target.creating(e);
        }
        return 0;
    }

    /** The engine's own checks of the options and the backing file name, before anything is printed. */
    private Qcow2CreateOptions checked(Qcow2CreateOptions options) {
        try {
            Qcow2Image.checkCreate(path(file), options);
            return options;
        } catch (IllegalArgumentException e) {
            throw new CliException(1, file + ": " + e.getMessage(), e);
        } catch (BackingChainException e) {
            throw new CliException(1, ErrorMessages.of(e), e);
        }
    }

    /** Opens the backing file (named relative to the new image's folder) for its size. */
    private long backingSize(String backing, String backingFmt) {
        Path base = Path.of(backing);
        Path parent = path(file).getParent();
        Path resolved = base.isAbsolute() || parent == null ? base : parent.resolve(base);
        try (BlockDevice device = Images.open(resolved, new OpenOptions(true, true, false, backingFmt))) {
            return device.size();
        } catch (IOException | RuntimeException e) {
            throw new CliException(1, file + ": " + ErrorMessages.of(e) + " (Could not open backing image.)", e);
        }
    }
}
