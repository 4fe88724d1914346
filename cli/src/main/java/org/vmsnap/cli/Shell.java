package org.vmsnap.cli;

import java.io.BufferedReader;
import java.io.Console;
import java.io.IOError;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Several commands in one JVM, as virsh runs them: a command string ({@code vmsnap 'cmd1;
 * cmd2'}), or lines read one by one, from a terminal (the interactive shell: a prompt, line
 * editing and history) or from standard input. Each line (or the string) is split by
 * {@link CommandString} and every command of it is parsed before the first one runs: a usage
 * error runs nothing of that line (virsh's rule), an error while a command runs is its one
 * error line and the next command runs. Each command gets its own picocli model and state, so
 * nothing of one command's options reaches the next. The status is the last command's.
 * Shell commands besides vmsnap's: {@code quit} and {@code exit} (also end of input),
 * {@code history}; {@code help} adds them to its list.
 */
final class Shell {
    static final String PROMPT = "vmsnap # ";

    /** The shell's own commands, with the one line {@code help} shows for each. */
    private static final String[][] BUILTINS = {
        {"exit", "Leave the shell (as quit and Ctrl-D); vmsnap exits with the last command's status."},
        {"history", "List the lines read in this shell, numbered (Up and Down recall them at the prompt)."},
        {"quit", "Leave the shell (as exit and Ctrl-D); vmsnap exits with the last command's status."},
    };

    /** Where lines come from. */
    interface Lines {
        /** The next line without its end, or null at the end of the input. */
        String read(String prompt) throws IOException;
    }

    private final PrintWriter out;
    private final PrintWriter err;
    private final boolean debug;
    private final List<String> history = new ArrayList<>();
    private boolean quit;
    private int status;

    /** @param debug {@code --debug} before the command string: given to every command */
    Shell(PrintWriter out, PrintWriter err, boolean debug) {
        this.out = out;
        this.err = err;
        this.debug = debug;
    }

    /**
     * {@code vmsnap} with no arguments: the interactive shell on a terminal, else the commands
     * of standard input (virsh reads them too), without a prompt or greeting.
     */
    static int standardInput(PrintWriter out, PrintWriter err) {
        // The JDK's own line editor (JLine in module jdk.internal.le) behind System.console():
        // editing, Up/Down history and Ctrl-R without a dependency. Read on the first
        // System.console() call, which this is; it returns null unless stdin and stdout are
        // both terminals, with this console as with the plain one.
        if (System.getProperty("jdk.console") == null) {
            System.setProperty("jdk.console", "jdk.internal.le");
        }
        Console console = System.console();
        Shell shell = new Shell(out, err, false);
        if (console != null && console.isTerminal()) {
            return shell.run(prompt -> {
                try {
                    return console.readLine("%s", prompt);
                } catch (IOError e) {
                    throw new IOException(e.getMessage(), e);
                }
            }, true);
        }
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        return shell.run(prompt -> in.readLine(), false);
    }

    /**
     * Reads and runs lines until quit, exit or the end of the input.
     *
     * @param interactive greet, prompt and end with a newline, as virsh on a terminal
     * @return the status of the last command that ran (0 if none)
     */
    int run(Lines in, boolean interactive) {
        if (interactive) {
            out.print("Welcome to vmsnap, snapshots for QEMU/KVM virtual machines.\n\n"
                    + "Type:  'help' for help with commands\n       'quit' to quit\n\n");
        }
        while (!quit) {
            out.flush();
            err.flush();
            String line;
            try {
                line = in.read(interactive ? PROMPT : "");
            } catch (IOException e) {
                Main.report(err, e, e, debug);
                return 1;
            } catch (RuntimeException e) {
                // Ctrl-C at the prompt (JLine's UserInterruptException): drop the line, as bash.
                if (interactive && e.getClass().getSimpleName().equals("UserInterruptException")) {
                    continue;
                }
                throw e;
            }
            if (line == null) {
                if (interactive) {
                    out.print("\n");
                }
                break;
            }
            if (!line.isBlank()) {
                history.add(line);
            }
            runLine(line);
        }
        out.flush();
        err.flush();
        return status;
    }

    /**
     * Runs the commands of one line or command string.
     *
     * @return the status of its last command; 1 if the line did not parse (nothing ran); the
     *     status before it if it has no command
     */
    int runLine(String line) {
        List<List<String>> commands;
        try {
            commands = CommandString.split(line);
        } catch (CliException e) {
            return fail(e);
        }
        List<Step> steps = new ArrayList<>();
        for (List<String> words : commands) {
            Step step;
            try {
                step = builtin(words);
            } catch (CliException e) {
                return fail(e);
            }
            if (step == null) {
                List<String> args = new ArrayList<>(words);
                if (debug) {
                    args.addFirst("--debug");
                }
                Main.Parsed parsed = Main.parse(out, err, args.toArray(String[]::new));
                if (parsed == null) {
                    return status = 1;
                }
                step = new Step(parsed, null);
            }
            steps.add(step);
        }
        for (Step step : steps) {
            if (step.parsed() != null) {
                status = execute(step.parsed());
            } else {
                step.own().run();
                status = quit ? status : 0; // quit and exit keep the last status, as sh's exit
            }
            out.flush();
            err.flush();
            if (quit) {
                break;
            }
        }
        return status;
    }

    int execute(Main.Parsed parsed) {
        try {
            int code = Main.execute(parsed);
            List<String> words = parsed.result().originalArgs();
            if (code == 0 && words.stream().filter(w -> !w.equals("--debug")).toList().equals(List.of("help"))) {
                out.print(group());
            }
            return code;
        } catch (Throwable t) {
            // Whatever a command throws past picocli's handlers (an Error, a handler's own
            // failure) ends that command, not the shell.
            out.flush();
            if (debug || parsed.result().originalArgs().contains("--debug")) {
                t.printStackTrace(err);
            }
            err.println("vmsnap: " + ErrorMessages.of(t));
            err.flush();
            return 1;
        }
    }

    private int fail(CliException e) {
        Main.report(err, e, e, debug);
        return status = 1;
    }

    /** One command of a line: a vmsnap command parsed, or one of the shell's own. */
    private record Step(Main.Parsed parsed, Runnable own) {
    }

    /**
     * The shell's own command for these words, or null for a vmsnap command.
     *
     * @throws CliException when the shell's command is mistyped
     */
    private Step builtin(List<String> words) {
        List<String> w = words.stream().dropWhile(x -> x.equals("--debug")).toList();
        if (w.isEmpty()) {
            return null;
        }
        String name = w.getFirst();
        List<String> rest = w.subList(1, w.size());
        if (name.equals("help") && rest.size() == 1 && (rest.getFirst().equals("shell") || builtinLine(
                rest.getFirst()) != null)) {
            String topic = rest.getFirst();
            return own(() -> out.print(topic.equals("shell") ? group() : usage(topic)));
        }
        if (builtinLine(name) == null) {
            return null;
        }
        if (rest.size() == 1 && (rest.getFirst().equals("--help") || rest.getFirst().equals("-h"))) {
            return own(() -> out.print(usage(name)));
        }
        if (!rest.isEmpty()) {
            throw new CliException(1, rest.getFirst().startsWith("-") && !rest.getFirst().equals("-")
                    ? "command '" + name + "' doesn't support option " + rest.getFirst()
                    : "unexpected data '" + rest.getFirst() + "'");
        }
        if (name.equals("history")) {
            return own(() -> {
                for (int i = 0; i < history.size(); i++) {
                    out.print(String.format("%5d  %s", i + 1, history.get(i)) + "\n");
                }
            });
        }
        return own(() -> quit = true);
    }

    private static Step own(Runnable action) {
        return new Step(null, action);
    }

    private static String builtinLine(String name) {
        for (String[] b : BUILTINS) {
            if (b[0].equals(name)) {
                return b[1];
            }
        }
        return null;
    }

    private static String usage(String name) {
        return "Usage: " + name + "\n" + builtinLine(name) + "\n";
    }

    /** The shell's commands as HelpCommand prints a group. */
    private static String group() {
        StringBuilder b = new StringBuilder(" Shell, with 'vmsnap' alone or 'vmsnap \"CMD1; CMD2\"'")
                .append(" (help keyword 'shell'):\n");
        for (String[] builtin : BUILTINS) {
            b.append(String.format("    %-30s %s%n", builtin[0], builtin[1]).replace(System.lineSeparator(), "\n"));
        }
        return b.append('\n').toString();
    }
}
