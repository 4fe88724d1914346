package org.vmsnap.cli.img;

import java.io.IOException;
import java.nio.file.Path;

import org.vmsnap.cli.CliException;
import org.vmsnap.cli.HelpCommand;
import org.vmsnap.cli.format.SizeArg;
import org.vmsnap.qcow2.BlockDevice;
import org.vmsnap.qcow2.Images;
import org.vmsnap.qcow2.OpenOptions;
import org.vmsnap.qcow2.Qcow2Image;
import org.vmsnap.qcow2.RawImage;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code img resize FILE [+|-]SIZE}: grows an image, or shrinks it with {@code --shrink}.
 * A size starting with a minus sign is a size, not an option (as in qemu-img).
 */
@Command(name = "resize", description = "Change the virtual size of an image (as qemu-img resize).",
        customSynopsis = "vmsnap img resize [-f fmt] [-q] [--shrink] filename [+ | -]size",
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap img resize disk.qcow2 +1G",
                "  vmsnap img resize --shrink disk.qcow2 -512M"})
final class ResizeCommand extends ImgSubcommand {

    @Option(names = {"-f", "--format"}, paramLabel = "fmt",
            description = "Image format (qcow2 or raw); probed when absent.")
    String format;

    @Option(names = "--shrink", description = "Allow making the image smaller (data past the new end is lost).")
    boolean shrink;

    @Option(names = {"-q", "--quiet"}, description = "Print nothing but errors.")
    boolean quiet;

    @Parameters(index = "0", paramLabel = "filename")
    String file;

    @Parameters(index = "1", paramLabel = "[+|-]size")
    String sizeText;

    @Override
    public Integer call() throws IOException {
        char sign = sizeText.isEmpty() ? 0 : sizeText.charAt(0);
        boolean relative = sign == '+' || sign == '-';
        long amount;
        try {
            amount = SizeArg.parse(relative ? sizeText.substring(1) : sizeText);
        } catch (IllegalArgumentException e) {
            throw new CliException("Parameter 'size' expects a non-negative number below 2^64");
        }
        Path path = path(file);
        String fmt = format != null ? format : Images.probeFormat(path);
        if (format == null && fmt.equals("raw")) {
            err().println("WARNING: Image format was not specified for '" + file + "' and probing guessed raw.");
            err().println("         Automatically detecting the format is dangerous for raw images,"
                    + " write operations on block 0 will be restricted.");
            err().println("         Specify the 'raw' format explicitly to remove the restrictions.");
            err().flush();
        }
        try (BlockDevice device = Images.open(path, new OpenOptions(false, false, true, fmt))) {
            long current = device.size();
            long newSize = switch (sign) {
                case '+' -> Math.addExact(current, amount);
                case '-' -> current - amount;
                default -> amount;
            };
            if (newSize <= 0) {
                throw new CliException("New image size must be positive");
            }
            if (newSize < current && !shrink) {
                throw new CliException("Use the --shrink option to perform a shrink operation.");
            }
            switch (device) {
                case Qcow2Image qcow2 -> {
                    if (newSize % 512 != 0) {
                        throw new CliException("The new size must be a multiple of 512");
                    }
                    qcow2.resize(newSize);
                }
                case RawImage raw -> raw.resize(newSize);
                default -> throw new CliException(file + ": resize is not supported for format " + device.format());
            }
            device.flush();
        }
        if (!quiet) {
            out().println("Image resized.");
        }
        return 0;
    }
}
