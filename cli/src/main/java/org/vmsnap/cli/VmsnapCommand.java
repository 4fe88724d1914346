package org.vmsnap.cli;

import java.util.List;

import org.vmsnap.cli.img.ImgCommand;
import org.vmsnap.cli.virsh.AttachCommand;
import org.vmsnap.cli.virsh.DefineCommand;
import org.vmsnap.cli.virsh.DestroyCommand;
import org.vmsnap.cli.virsh.DomfsfreezeCommand;
import org.vmsnap.cli.virsh.DomjobinfoCommand;
import org.vmsnap.cli.virsh.ManagedsaveCommand;
import org.vmsnap.cli.virsh.ManagedsaveRemoveCommand;
import org.vmsnap.cli.virsh.RestoreCommand;
import org.vmsnap.cli.virsh.SaveCommand;
import org.vmsnap.cli.virsh.SaveImageDefineCommand;
import org.vmsnap.cli.virsh.SaveImageDumpxmlCommand;
import org.vmsnap.cli.virsh.DomfsinfoCommand;
import org.vmsnap.cli.virsh.DomfsthawCommand;
import org.vmsnap.cli.virsh.DomidCommand;
import org.vmsnap.cli.virsh.DominfoCommand;
import org.vmsnap.cli.virsh.DomstateCommand;
import org.vmsnap.cli.virsh.DomblklistCommand;
import org.vmsnap.cli.virsh.DumpxmlCommand;
import org.vmsnap.cli.virsh.ListCommand;
import org.vmsnap.cli.virsh.RebootCommand;
import org.vmsnap.cli.virsh.RecoverCommand;
import org.vmsnap.cli.virsh.ResumeCommand;
import org.vmsnap.cli.virsh.SnapshotCreateAsCommand;
import org.vmsnap.cli.virsh.SnapshotCreateCommand;
import org.vmsnap.cli.virsh.SnapshotCurrentCommand;
import org.vmsnap.cli.virsh.SnapshotDeleteCommand;
import org.vmsnap.cli.virsh.SnapshotDumpxmlCommand;
import org.vmsnap.cli.virsh.SnapshotEditCommand;
import org.vmsnap.cli.virsh.SnapshotInfoCommand;
import org.vmsnap.cli.virsh.SnapshotListCommand;
import org.vmsnap.cli.virsh.SnapshotParentCommand;
import org.vmsnap.cli.virsh.ShutdownCommand;
import org.vmsnap.cli.virsh.SnapshotRevertCommand;
import org.vmsnap.cli.virsh.StartCommand;
import org.vmsnap.cli.virsh.SuspendCommand;
import org.vmsnap.cli.virsh.UndefineCommand;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/** The root command: {@code vmsnap [--debug] [--version] COMMAND ...}. */
@Command(name = "vmsnap", versionProvider = Version.class,
        description = "Snapshots for QEMU/KVM virtual machines, with a pure-Java qcow2 engine.",
        footerHeading = "%n", footer = {"'vmsnap help' lists the commands by group; 'vmsnap help COMMAND' or",
                "'vmsnap COMMAND --help' shows a command's options and examples.",
                "'vmsnap' alone is a shell; 'vmsnap \"CMD1; CMD2\"' runs several commands."})
public final class VmsnapCommand implements Runnable {

    /**
     * The commands, in the order help and completion list them. Not in the annotation: picocli
     * would build the model of every one at each start, and Main builds only the one being run
     * (see Main.commandPath).
     */
    static final List<Class<?>> COMMANDS = List.of(ImgCommand.class, HelpCommand.class, DemoCommand.class,
            ServeCommand.class, DaemonCommand.class,
            CompletionCommand.class, AotTrainingCommand.class, AotImgTrainingCommand.class,
            // virsh's verbs, at top level as in virsh
            DefineCommand.class, UndefineCommand.class, ListCommand.class, DumpxmlCommand.class,
            StartCommand.class, ShutdownCommand.class, RebootCommand.class, DestroyCommand.class,
            SuspendCommand.class, ResumeCommand.class, DomstateCommand.class, DomidCommand.class,
            DominfoCommand.class, AttachCommand.class, DomfsfreezeCommand.class, DomfsthawCommand.class,
            DomfsinfoCommand.class,
            DomblklistCommand.class, SaveCommand.class, RestoreCommand.class, ManagedsaveCommand.class,
            ManagedsaveRemoveCommand.class, SaveImageDumpxmlCommand.class, SaveImageDefineCommand.class,
            DomjobinfoCommand.class, SnapshotCreateCommand.class, SnapshotCreateAsCommand.class,
            SnapshotListCommand.class, SnapshotCurrentCommand.class, SnapshotInfoCommand.class,
            SnapshotParentCommand.class, SnapshotDumpxmlCommand.class, SnapshotEditCommand.class,
            SnapshotRevertCommand.class, SnapshotDeleteCommand.class, RecoverCommand.class);

    @Option(names = "--debug", scope = ScopeType.INHERIT,
            description = "Show stack traces of errors.")
    boolean debug;

    // Every command's help: one option inherited by all (picocli copies it, which is cheaper at
    // start-up than an annotated option per command).
    @Option(names = {"-h", "--help"}, usageHelp = true, scope = ScopeType.INHERIT,
            description = "Show this help and exit.")
    boolean help;

    @Option(names = {"-V", "--version"}, versionHelp = true, description = "Print the version and exit.")
    boolean version;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                "missing command (try 'vmsnap help')");
    }
}
