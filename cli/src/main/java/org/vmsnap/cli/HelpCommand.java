package org.vmsnap.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code help [COMMAND | GROUP]}, as virsh's help: no word lists the commands by group, a
 * group's keyword lists that group, a command ({@code help img create} too) prints its usage
 * help, and anything else is virsh's "command or command group 'X' doesn't exist" with the
 * nearest names. {@code vmsnap img help [VERB]} is read as {@code vmsnap help img [VERB]}.
 */
@Command(name = "help", helpCommand = true,
        description = "Show the commands by group, one group, or one command's options and an example.",
        footerHeading = HelpCommand.EXAMPLES, footer = {"  vmsnap help", "  vmsnap help snapshot",
                "  vmsnap help snapshot-create-as", "  vmsnap help img convert"})
public final class HelpCommand implements Callable<Integer> {

    /** The heading of every command's examples (its usage footer). */
    public static final String EXAMPLES = "%nExamples:%n";

    /** virsh's groups: title, help keyword, then the commands (img verbs as "img VERB"). */
    private static final String[][] GROUPS = {
        {"Domain Management", "domain", "attach", "define", "destroy", "domfsfreeze", "domfsthaw", "domjobinfo",
            "dumpxml", "managedsave", "managedsave-remove", "reboot", "restore", "resume", "save",
            "save-image-define", "save-image-dumpxml", "shutdown", "start", "suspend", "undefine"},
        {"Domain Monitoring", "monitor", "domblklist", "domfsinfo", "domid", "dominfo", "domstate", "list"},
        {"Snapshot", "snapshot", "snapshot-create", "snapshot-create-as", "snapshot-current", "snapshot-delete",
            "snapshot-dumpxml", "snapshot-edit", "snapshot-info", "snapshot-list", "snapshot-parent",
            "snapshot-revert", "recover"},
        {"Disk Images, as qemu-img", "img", "img", "img check", "img commit", "img compare", "img convert",
            "img create", "img info", "img map", "img snapshot", "img rebase", "img resize"},
        {"vmsnap itself", "vmsnap", "demo", "generate-completion", "help", "serve", "daemon"},
    };

    @Parameters(arity = "0..*", paramLabel = "COMMAND", description = "A command (e.g. snapshot-list, img info)"
            + " or a group keyword (domain, monitor, snapshot, img, vmsnap).")
    List<String> words = new ArrayList<>();

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        CommandLine root = spec.commandLine().getParent();
        PrintWriter out = spec.commandLine().getOut();
        if (words.isEmpty()) {
            out.print("Grouped commands:\n\n");
            for (String[] group : GROUPS) {
                out.print(group(root, group));
            }
            return 0;
        }
        CommandLine target = root;
        for (String word : words) {
            target = target == null ? null : visible(target.getSubcommands()).get(word);
        }
        if (target != null) {
            target.usage(out);
            return 0;
        }
        if (words.size() == 1) {
            for (String[] group : GROUPS) {
                if (group[1].equals(words.getFirst())) {
                    out.print(group(root, group));
                    return 0;
                }
            }
        }
        String typed = String.join(" ", words);
        throw new CliException(1, "command or command group '" + typed + "' doesn't exist",
                Suggestions.block("command", Suggestions.nearest(words.getLast(), names(root, words))));
    }

    /**
     * {@code vmsnap img help [VERB]} is {@code vmsnap help img [VERB]}: said so before parsing,
     * which spares {@code img} a help subcommand of its own to build at every start.
     */
    public static String[] imgHelp(String[] args) {
        int at = 0;
        while (at < args.length && args[at].startsWith("-") && !args[at].equals("--")) {
            at++;
        }
        if (at + 1 >= args.length || !args[at].equals("img") || !args[at + 1].equals("help")) {
            return args;
        }
        String[] out = args.clone();
        out[at] = "help";
        out[at + 1] = "img";
        return out;
    }

    /** The group as virsh prints it: its title line, "    %-30s %s" per command, a blank line. */
    private static String group(CommandLine root, String[] group) {
        StringBuilder b = new StringBuilder(" ").append(group[0]).append(" (help keyword '").append(group[1])
                .append("'):\n");
        for (String name : List.of(group).subList(2, group.length)) {
            CommandLine cmd = root;
            for (String word : name.split(" ")) {
                cmd = cmd.getSubcommands().get(word);
            }
            String[] description = cmd.getCommandSpec().usageMessage().description();
            b.append(String.format("    %-30s %s%n", name, description.length == 0 ? "" : description[0])
                    .replace(System.lineSeparator(), "\n"));
        }
        return b.append('\n').toString();
    }

    /** The commands the words could have meant: at their level, and at the top also the img verbs. */
    private static List<String> names(CommandLine root, List<String> words) {
        CommandLine level = root;
        for (String word : words.subList(0, words.size() - 1)) {
            level = level == null ? null : visible(level.getSubcommands()).get(word);
        }
        List<String> names = new ArrayList<>();
        String path = String.join(" ", words.subList(0, words.size() - 1));
        if (level != null) {
            visible(level.getSubcommands()).keySet().forEach(n -> names.add(path.isEmpty() ? n : path + " " + n));
        }
        if (words.size() == 1) {
            for (String[] group : GROUPS) {
                names.add(group[1]);
            }
            CommandLine img = root.getSubcommands().get("img");
            visible(img.getSubcommands()).keySet().forEach(v -> names.add("img " + v));
        }
        return names.stream().distinct().toList();
    }

    /** Subcommands without the hidden ones (aot-training). */
    static Map<String, CommandLine> visible(Map<String, CommandLine> subcommands) {
        Map<String, CommandLine> shown = new java.util.LinkedHashMap<>();
        subcommands.forEach((name, cmd) -> {
            if (!cmd.getCommandSpec().usageMessage().hidden()) {
                shown.put(name, cmd);
            }
        });
        return shown;
    }
}
