package org.vmsnap.cli.virsh;

import java.util.ArrayList;
import java.util.List;

import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/**
 * virsh's reading of a command's words, for the virsh verbs: before {@code --}, a word that
 * starts with {@code --} is an option (followed by its value when it takes one, whatever that
 * value looks like) and every other word is data, {@code -x} included (but {@code -h} asks for
 * help, as everywhere in vmsnap); after {@code --} every word is data. So
 * {@code snapshot-create-as vm -x}, {@code ... --name -x} and {@code ... -- -x} all name a
 * snapshot "-x", as in virsh. picocli then gets the options first
 * and the data after a {@code --}, in their order.
 */
public final class VirshWords {
    private VirshWords() {
    }

    /** The arguments to parse: unchanged unless they run a virsh verb. */
    public static String[] apply(CommandLine root, String[] args) {
        int verbAt = 0;
        while (verbAt < args.length && args[verbAt].startsWith("-")) {
            if (args[verbAt].equals("--")) {
                return args;
            }
            verbAt++;
        }
        CommandLine verb = verbAt < args.length ? root.getSubcommands().get(args[verbAt]) : null;
        if (verb == null || !(verb.getCommand() instanceof VirshSubcommand)) {
            return args;
        }
        List<String> options = new ArrayList<>();
        List<String> data = new ArrayList<>();
        for (int i = verbAt + 1; i < args.length; i++) {
            String word = args[i];
            if (word.equals("--")) {
                data.addAll(List.of(args).subList(i + 1, args.length));
                break;
            }
            OptionSpec option = word.startsWith("-") ? verb.getCommandSpec().findOption(word) : null;
            if (!word.startsWith("--") && option == null) {
                data.add(word);
                continue;
            }
            options.add(word);
            if (option != null && option.arity().max() > 0 && i + 1 < args.length) {
                options.add(args[++i]);
            }
        }
        List<String> out = new ArrayList<>(List.of(args).subList(0, verbAt + 1));
        out.addAll(options);
        if (!data.isEmpty()) {
            out.add("--");
            out.addAll(data);
        }
        return out.toArray(String[]::new);
    }
}
