package org.vmsnap.cli;

import org.vmsnap.cli.img.ImgCommand;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/** The root command: {@code vmsnap [--debug] [--version] COMMAND ...}. */
@Command(name = "vmsnap", mixinStandardHelpOptions = true, versionProvider = Version.class,
        description = "Snapshots for QEMU/KVM virtual machines, with a pure-Java qcow2 engine.",
        subcommands = {ImgCommand.class, DemoCommand.class, AotTrainingCommand.class})
public final class VmsnapCommand implements Runnable {

    private final boolean terminal;

    @Option(names = "--debug", scope = ScopeType.INHERIT,
            description = "Show stack traces of errors.")
    boolean debug;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    VmsnapCommand(boolean terminal) {
        this.terminal = terminal;
    }

    /** Standard output is a terminal: progress bars may be drawn. */
    public boolean terminal() {
        return terminal;
    }

    @Override
    public void run() {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                "missing command (try 'vmsnap --help')");
    }
}
