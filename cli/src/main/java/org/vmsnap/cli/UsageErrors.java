package org.vmsnap.cli;

import java.util.ArrayList;
import java.util.List;

import picocli.CommandLine;
import picocli.CommandLine.MissingParameterException;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.OverwrittenOptionException;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * A command line that does not parse, said as the tool a user knows says it: virsh's
 * "unknown command: 'X'", "command 'X' doesn't support option --Y", "unexpected data 'Z'", and
 * qemu-img's "unrecognized option" for the img verbs, with the verb named; the nearest names
 * follow as a hint.
 */
final class UsageErrors {
    private UsageErrors() {
    }

    /** The exception to report instead of picocli's. */
    static CliException of(ParameterException ex) {
        CommandLine cmd = ex.getCommandLine();
        // picocli stops at the missing argument and drops the unknown option typed with it:
        // both are errors, each on its own line, the unknown option first.
        if (ex instanceof MissingParameterException && !cmd.getUnmatchedArguments().isEmpty()) {
            CliException unknown = single(new UnmatchedArgumentException(cmd, cmd.getUnmatchedArguments()));
            CliException missing = single(ex);
            return new CliException(1, unknown.getMessage(),
                    "vmsnap: " + missing.getMessage() + "\n" + unknown.hint());
        }
        return single(ex);
    }

    private static CliException single(ParameterException ex) {
        CommandLine cmd = ex.getCommandLine();
        String verb = verb(cmd);
        if (ex instanceof UnmatchedArgumentException u && !u.getUnmatched().isEmpty()) {
            String first = u.getUnmatched().getFirst();
            // After "--" a word is data, whatever it looks like (virsh: "unexpected data '--x'").
            java.util.List<String> all = ex.getCommandLine().getParseResult() == null ? java.util.List.of()
                    : ex.getCommandLine().getParseResult().originalArgs();
            int end = all.indexOf("--");
            boolean afterEnd = end >= 0 && all.subList(end + 1, all.size()).contains(first);
            if (first.startsWith("-") && first.length() > 1 && !afterEnd) {
                String hint = Suggestions.block("option", Suggestions.nearest(first.replaceFirst("=.*", ""),
                        optionNames(cmd)));
                return new CliException(1, isImg(cmd) ? verb + ": unrecognized option '" + first + "'"
                        : verb.isEmpty() ? "unrecognized option '" + first + "'"
                        : "command '" + verb + "' doesn't support option " + first, hint);
            }
            if (!cmd.getSubcommands().isEmpty()) {
                String typed = verb.isEmpty() ? first : verb + " " + first;
                return new CliException(1, "unknown command: '" + typed + "'",
                        Suggestions.block("command", Suggestions.nearest(first, commandNames(cmd))));
            }
            return new CliException(1, isImg(cmd) ? verb + ": unexpected argument '" + first + "' (see 'vmsnap "
                    + verb + " --help')" : "unexpected data '" + first + "'");
        }
        if (ex instanceof OverwrittenOptionException o && o.getOverwritten() instanceof OptionSpec option
                && !isImg(cmd) && !verb.isEmpty()) {
            return new CliException(1, "option " + option.longestName() + " already seen");
        }
        if (ex instanceof MissingParameterException m && !isImg(cmd) && !verb.isEmpty()
                && !m.getMissing().isEmpty()) {
            // virsh: "command 'snapshot-info' requires <domain> option"
            return new CliException(1, "command '" + verb + "' requires <"
                    + m.getMissing().getFirst().paramLabel().toLowerCase(java.util.Locale.ROOT) + "> option");
        }
        return new CliException(1, prefix(verb) + ErrorMessages.of(ex));
    }

    /** "snapshot-list", "img info", or "" for vmsnap itself. */
    private static String verb(CommandLine cmd) {
        String qualified = cmd.getCommandSpec().qualifiedName(" ");
        int space = qualified.indexOf(' ');
        return space < 0 ? "" : qualified.substring(space + 1);
    }

    private static String prefix(String verb) {
        return verb.isEmpty() ? "" : verb + ": ";
    }

    /** The verb as it leads a command line: "img info " or "". */
    private static String lead(String verb) {
        return verb.isEmpty() ? "" : verb + " ";
    }

    private static boolean isImg(CommandLine cmd) {
        return verb(cmd).startsWith("img");
    }

    private static List<String> optionNames(CommandLine cmd) {
        List<String> names = new ArrayList<>();
        for (OptionSpec o : cmd.getCommandSpec().options()) {
            if (!o.hidden()) {
                names.addAll(List.of(o.names()));
            }
        }
        return names;
    }

    /**
     * The subcommands at this level as typed after "vmsnap" ("img info"); at the top also the
     * img verbs, so that "vmsnap convert" finds "img convert".
     */
    private static List<String> commandNames(CommandLine cmd) {
        List<String> names = new ArrayList<>();
        HelpCommand.visible(cmd.getSubcommands()).keySet().forEach(n -> names.add(lead(verb(cmd)) + n));
        CommandLine img = cmd.getParent() == null ? cmd.getSubcommands().get("img") : null;
        if (img != null) {
            HelpCommand.visible(img.getSubcommands()).keySet().forEach(v -> names.add("img " + v));
        }
        return names;
    }
}
