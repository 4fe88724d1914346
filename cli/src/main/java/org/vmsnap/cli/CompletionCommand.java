package org.vmsnap.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;

import picocli.AutoComplete;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code generate-completion}: a bash (and zsh, through bashcompinit) completion script for
 * every command and option, made by picocli from the same model that parses them. bash also
 * applies it to {@code ./vmsnap} and {@code /path/to/vmsnap}: it falls back to the command's
 * last path component.
 */
@Command(name = "generate-completion",
        description = "Print a bash/zsh completion script for vmsnap's commands and options.",
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  source <(vmsnap generate-completion)      # in this shell, or in ~/.bashrc",
                "  vmsnap generate-completion > ~/.local/share/bash-completion/completions/vmsnap"})
public final class CompletionCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        // "\n", not println: a script with other line ends fails in odd ways.
        out.print(AutoComplete.bash(spec.root().name(), spec.root().commandLine()));
        out.print('\n');
        out.flush();
        return 0;
    }
}
