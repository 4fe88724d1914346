package org.vmsnap.cli.img;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code vmsnap img VERB ...}: the qemu-img verbs, with qemu-img's flags and output. */
@Command(name = "img", mixinStandardHelpOptions = true,
        description = "Disk image commands, as qemu-img does them.",
        subcommands = {CreateCommand.class, InfoCommand.class, CheckCommand.class, MapCommand.class,
                CompareCommand.class, ConvertCommand.class, ResizeCommand.class, SnapshotCommand.class,
                CommitCommand.class, RebaseCommand.class})
public final class ImgCommand implements Runnable {

    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "missing command (try 'vmsnap img --help')");
    }
}
