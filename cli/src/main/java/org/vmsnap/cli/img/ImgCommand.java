package org.vmsnap.cli.img;

import java.util.List;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Help;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code vmsnap img VERB ...}: the qemu-img verbs, with qemu-img's flags and output. Its help
 * is laid out as {@code qemu-img --help}: the version, the standard options, then one syntax
 * line per verb (each verb's own synopsis) and what the parameters mean.
 */
@Command(name = "img", versionProvider = org.vmsnap.cli.Version.class,
        description = "Disk image commands, as qemu-img does them.",
        synopsisHeading = "usage: ", customSynopsis = "vmsnap img [standard options] command [command options]",
        optionListHeading = "%n", commandListHeading = "%nCommand syntax:%n",
        footerHeading = "%nCommand parameters:%n",
        footer = {"  'filename' is a disk image filename",
            "  'fmt' is the disk image format, qcow2 or raw; it is guessed when absent",
            "  'size' is the disk image size in bytes. Optional suffixes 'k' or 'K'",
            "    (kilobyte, 1024), 'M' (megabyte, 1024k), 'G', 'T', 'P' and 'E' are",
            "    supported. 'b' is ignored.",
            "  'output_filename' is the destination disk image filename (never overwritten)",
            "  'output_fmt' is the destination format",
            "  'options' is a comma separated list of format specific options in a",
            "    name=value format. Use -o help for the options of the format",
            "  'snapshot_param' is 'snapshot.id=[ID],snapshot.name=[NAME]' or '[ID_OR_NAME]'",
            "  'snapshot' is the name of an internal snapshot",
            "  '-p' shows progress, '-q' prints nothing but errors",
            "  '-U' opens an image that is in use (read-only)",
            "  '--output' takes the format in which the output must be done (human or json)",
            "",
            "'vmsnap img help COMMAND' or 'vmsnap img COMMAND --help' shows one command."})
public final class ImgCommand implements Runnable {

    /** The verbs, in the order of vmsnap's help; Main adds them (only the one run, when it can). */
    public static final List<Class<?>> VERBS = List.of(CreateCommand.class, InfoCommand.class,
            CheckCommand.class, MapCommand.class, CompareCommand.class, ConvertCommand.class, ResizeCommand.class,
            SnapshotCommand.class, CommitCommand.class, RebaseCommand.class);

    /** qemu-img's order of the verbs in its help (qemu-img-cmds.hx). */
    private static final List<String> QEMU_IMG_ORDER = List.of("check", "commit", "compare", "convert", "create",
            "info", "map", "snapshot", "rebase", "resize");

    @Spec
    CommandSpec spec;

    @Option(names = {"-V", "--version"}, versionHelp = true, description = "Print the version and exit.")
    boolean version;

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "missing command (try 'vmsnap img --help')");
    }

    /**
     * Lays out {@code img}'s usage help as qemu-img's: the version line first, and under
     * "Command syntax:" each verb's synopsis (its customSynopsis, without "vmsnap img ").
     */
    public static void useQemuImgHelp(CommandLine img) {
        img.getHelpSectionMap().put(CommandLine.Model.UsageMessageSpec.SECTION_KEY_HEADER,
                help -> String.join("\n", help.commandSpec().version()) + "\n");
        img.getHelpSectionMap().put(CommandLine.Model.UsageMessageSpec.SECTION_KEY_COMMAND_LIST,
                ImgCommand::syntax);
    }

    private static String syntax(Help help) {
        StringBuilder b = new StringBuilder();
        for (String verb : QEMU_IMG_ORDER) {
            Help sub = help.subcommands().get(verb);
            // One line per verb, as qemu-img prints it; the verb's own help wraps it.
            String synopsis = String.join(" ", sub.commandSpec().usageMessage().customSynopsis());
            b.append("  ").append(synopsis.replaceAll("\\s+", " ").substring("vmsnap img ".length())).append('\n');
        }
        return b.toString();
    }
}
