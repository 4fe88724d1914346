package org.vmsnap.cli.img;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;

import org.vmsnap.cli.CliException;
import org.vmsnap.qcow2.BlockDevice;
import org.vmsnap.qcow2.Images;
import org.vmsnap.qcow2.OpenOptions;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** What every {@code img} verb shares: its streams, opening images, the output choice. */
abstract class ImgSubcommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    PrintWriter out() {
        return spec.commandLine().getOut();
    }

    PrintWriter err() {
        return spec.commandLine().getErr();
    }

    /** qemu-img's --output check: true for json, false for human. */
    static boolean isJson(String output) {
        return switch (output) {
            case "json" -> true;
            case "human" -> false;
            default -> throw new CliException("--output must be used with human or json as argument.");
        };
    }

    /** Opens an image the user named, read-only, with its backing chain. */
    static BlockDevice openReadOnly(String file, String format, boolean forceShare) throws IOException {
        return Images.open(Path.of(file), new OpenOptions(true, forceShare, true, format));
    }

    /** A path as the user typed it (relative stays relative, so output names match qemu-img's). */
    static Path path(String file) {
        return Path.of(file);
    }
}
