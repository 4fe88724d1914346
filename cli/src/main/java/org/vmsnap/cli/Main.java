package org.vmsnap.cli;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

import org.vmsnap.cli.img.ImgCommand;
import org.vmsnap.cli.virsh.VirshWords;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * vmsnap's entry point. Parses with picocli and prints; several commands in one argument
 * ({@code vmsnap 'cmd1; cmd2'}) or none (a shell) go through {@link Shell}; errors become one line on stderr
 * ({@code vmsnap: message}), possibly followed by the nearest command names, and exit code 1
 * or the command's own code; {@code --debug} adds the stack trace.
 */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        // Images this user's vmsnap checked and then wrote need no refcount walk on the next
        // read-write open while nothing else has written them (see VerifiedImages). Only for
        // the real command: commands run in process (tests, the demo) keep the full walk.
        org.vmsnap.qcow2.VerifiedImages.rememberIn(
                org.vmsnap.manager.DomainService.defaultHome().resolve("verified-images"));
        PrintWriter out = new PrintWriter(new java.io.OutputStreamWriter(System.out, StandardCharsets.UTF_8), true);
        PrintWriter err = new PrintWriter(new java.io.OutputStreamWriter(System.err, StandardCharsets.UTF_8), true);
        // No arguments: the interactive shell on a terminal, else the commands on stdin (virsh).
        int code = args.length == 0 ? Shell.standardInput(out, err) : run(out, err, args);
        out.flush();
        err.flush();
        System.exit(code);
    }

    /**
     * Runs one vmsnap command line in this process.
     *
     * @return the exit code
     */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        if (args.length == 1 && (args[0].equals("--version") || args[0].equals("-V"))) {
            // What picocli would print (Version) without building even the root's model: that
            // reflection was most of the time of a bare --version.
            try {
                out.print("vmsnap version " + Version.number() + "\n");
            } catch (java.io.IOException e) {
                report(err, e, e, false);
                return 1;
            }
            out.flush();
            return 0;
        }
        int debugWords = 0;
        while (debugWords < args.length && args[debugWords].equals("--debug")) {
            debugWords++;
        }
        if (debugWords == args.length - 1 && CommandString.is(args[debugWords])) {
            // virsh 'cmd1; cmd2': one argument with a blank or ';' is a command string.
            return new Shell(out, err, debugWords > 0).runLine(args[debugWords]);
        }
        String[] words = HelpCommand.imgHelp(args);
        CommandLine cl = commandLine(out, err, isDebug(args), commandPath(words));
        return cl.execute(VirshWords.apply(cl, words));
    }

    /** One command of a command string, parsed and not run yet: its own model and state. */
    record Parsed(CommandLine commandLine, String[] args, CommandLine.ParseResult result) {
    }

    /**
     * Builds and parses one command (the models of its words only, as {@link #run}), or
     * reports its usage error as {@link #run} does and returns null.
     */
    static Parsed parse(PrintWriter out, PrintWriter err, String... args) {
        String[] words = HelpCommand.imgHelp(args);
        CommandLine cl = commandLine(out, err, isDebug(args), commandPath(words));
        String[] parsedArgs = VirshWords.apply(cl, words);
        try {
            return new Parsed(cl, parsedArgs, cl.parseArgs(parsedArgs));
        } catch (CommandLine.ParameterException ex) {
            try {
                cl.getParameterExceptionHandler().handleParseException(ex, parsedArgs);
            } catch (Exception unexpected) {
                report(err, unexpected, unexpected, true);
            }
            return null;
        }
    }

    /**
     * Runs a parsed command as {@code CommandLine.execute} would have after parsing it, with
     * the same handlers (one error line, the command's exit code).
     */
    static int execute(Parsed p) throws Exception {
        CommandLine cl = p.commandLine();
        try {
            return cl.getExecutionStrategy().execute(p.result());
        } catch (CommandLine.ParameterException ex) {
            // Thrown by a command itself ("img" alone: missing command).
            return cl.getParameterExceptionHandler().handleParseException(ex, p.args());
        } catch (CommandLine.ExecutionException ex) {
            Exception cause = ex.getCause() instanceof Exception e ? e : ex;
            return cl.getExecutionExceptionHandler().handleExecutionException(cause, ex.getCommandLine(), p.result());
        }
    }

    /** vmsnap with the model of every command, as help and completion need it. */
    static CommandLine commandLine(PrintWriter out, PrintWriter err, boolean debugWord) {
        return commandLine(out, err, debugWord, null);
    }

    /**
     * The commands to build for these words, from the top: none for a bare {@code --version},
     * {@code [X]} for {@code [--debug...] X ...}, {@code [img, V]} for {@code img V ...}; null
     * (build all) for anything else: no command, help, completion, a word that names no command
     * (its error lists the nearest names of all), an option before the command but --debug.
     * picocli builds the model of every command it is given, and that was most of the start-up.
     */
    static List<Class<?>> commandPath(String... words) {
        if (words.length == 1 && (words[0].equals("--version") || words[0].equals("-V"))) {
            return List.of();
        }
        int at = 0;
        while (at < words.length && words[at].equals("--debug")) {
            at++;
        }
        Class<?> command = at < words.length ? named(VmsnapCommand.COMMANDS, words[at]) : null;
        if (command == null || command == HelpCommand.class || command == CompletionCommand.class
                || command == AotTrainingCommand.class) {
            return null;
        }
        if (command != ImgCommand.class) {
            return List.of(command);
        }
        Class<?> verb = at + 1 < words.length ? named(ImgCommand.VERBS, words[at + 1]) : null;
        return verb == null ? null : List.of(command, verb);
    }

    private static Class<?> named(List<Class<?>> commands, String word) {
        for (Class<?> c : commands) {
            Command command = c.getAnnotation(Command.class);
            if (command.name().equals(word) || List.of(command.aliases()).contains(word)) {
                return c;
            }
        }
        return null;
    }

    /** vmsnap with the commands of {@code path} only, or all when it is null. */
    static CommandLine commandLine(PrintWriter out, PrintWriter err, boolean debugWord,
            List<Class<?>> path) {
        VmsnapCommand root = new VmsnapCommand();
        CommandLine cl = new CommandLine(root);
        // Subcommands first: picocli's settings below reach only those already added.
        for (Class<?> c : path == null ? VmsnapCommand.COMMANDS : path.subList(0, Math.min(1, path.size()))) {
            if (c != ImgCommand.class) {
                cl.addSubcommand(c);
                continue;
            }
            CommandLine img = new CommandLine(c);
            for (Class<?> verb : path == null ? ImgCommand.VERBS : path.subList(1, 2)) {
                img.addSubcommand(verb);
            }
            if (path == null) {
                ImgCommand.useQemuImgHelp(img);
            }
            cl.addSubcommand(img);
        }
        // As getopt (qemu-img) and virsh: an option's value is the next word, even "-l" or "--x".
        cl.setAllowOptionsAsOptionParameters(true);
        CommandLine img = cl.getSubcommands().get("img");
        CommandLine resize = img == null ? null : img.getSubcommands().get("resize");
        if (resize != null) {
            // "resize FILE -1G": a negative size is an argument, as in qemu-img.
            resize.setUnmatchedOptionsArePositionalParams(true);
        }
        // Plain text, as qemu-img and virsh print it; this also spares picocli's terminal probe
        // (System.console()), which costs start-up time.
        cl.setColorScheme(CommandLine.Help.defaultColorScheme(CommandLine.Help.Ansi.OFF));
        // A Path option names a file relative to the user's folder, which is not the daemon's (Cwd).
        cl.registerConverter(java.nio.file.Path.class, Cwd::path);
        cl.setOut(out);
        cl.setErr(err);
        cl.setParameterExceptionHandler((ex, args) -> {
            // The command line did not parse, so the word is all there is to go by.
            report(err, UsageErrors.of(ex), ex, debugWord);
            return 1;
        });
        cl.setExecutionExceptionHandler((ex, cmd, parseResult) -> {
            out.flush();
            report(err, ex, ex, root.debug);
            return ex instanceof CliException ce ? ce.exitCode() : 1;
        });
        return cl;
    }

    static void report(PrintWriter err, Exception shown, Exception cause, boolean debug) {
        if (debug) {
            cause.printStackTrace(err);
        }
        err.println("vmsnap: " + ErrorMessages.of(shown));
        if (shown instanceof CliException ce) {
            err.print(ce.hint());
        }
        err.flush();
    }

    /** --debug anywhere before a "--" end-of-options marker. */
    static boolean isDebug(String... args) {
        int end = Arrays.asList(args).indexOf("--");
        return Arrays.asList(args).subList(0, end < 0 ? args.length : end).contains("--debug");
    }
}
