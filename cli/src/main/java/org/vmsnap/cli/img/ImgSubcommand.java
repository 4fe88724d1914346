package org.vmsnap.cli.img;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;

import org.vmsnap.cli.CliException;
import org.vmsnap.qcow2.BlockDevice;
import org.vmsnap.qcow2.CacheMode;
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

    /** What {@code -t} says in every verb's help. */
    static final String CACHE_HELP = "Cache mode of the file written: writeback (the default: everything is "
            + "synced before the command ends), unsafe (no sync), writethrough or directsync (sync after every "
            + "write), none (as writeback: vmsnap does not bypass the page cache).";
    /** What {@code -T} says. */
    static final String SOURCE_CACHE_HELP = "Cache mode of the files only read, as qemu-img takes it: none, "
            + "writeback, unsafe, directsync or writethrough (vmsnap reads through the page cache in every mode).";

    /** qemu-img's {@code -t}: the mode named, WRITEBACK when absent, else qemu-img's error. */
    static CacheMode cacheOption(String name) {
        return cacheMode(name, "Invalid cache option: ", 1);
    }

    /** qemu-img's {@code -T}: checked as qemu-img checks it; reads are the same in every mode. */
    static CacheMode sourceCacheOption(String name, int exitCode) {
        return cacheMode(name, "Invalid source cache option: ", exitCode);
    }

    private static CacheMode cacheMode(String name, String error, int exitCode) {
        if (name == null) {
            return CacheMode.WRITEBACK;
        }
        CacheMode m = CacheMode.byQemuName(name);
        if (m == null) {
            throw new CliException(exitCode, error + name);
        }
        return m;
    }

    /** A path as the user typed it (relative stays relative, so output names match qemu-img's). */
    static Path path(String file) {
        return Path.of(file);
    }
}
