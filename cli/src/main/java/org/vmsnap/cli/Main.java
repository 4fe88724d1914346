package org.vmsnap.cli;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import org.vmsnap.cli.img.ImgCommand;
import org.vmsnap.cli.virsh.VirshWords;

import picocli.CommandLine;

/**
 * vmsnap's entry point. Parses with picocli and prints; errors become one line on stderr
 * ({@code vmsnap: message}), possibly followed by the nearest command names, and exit code 1
 * or the command's own code; {@code --debug} adds the stack trace.
 */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        PrintWriter out = new PrintWriter(new java.io.OutputStreamWriter(System.out, StandardCharsets.UTF_8), true);
        PrintWriter err = new PrintWriter(new java.io.OutputStreamWriter(System.err, StandardCharsets.UTF_8), true);
        int code = run(out, err, args);
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
        CommandLine cl = commandLine(out, err, isDebug(args));
        return cl.execute(VirshWords.apply(cl, HelpCommand.imgHelp(args)));
    }

    static CommandLine commandLine(PrintWriter out, PrintWriter err, boolean debugWord) {
        VmsnapCommand root = new VmsnapCommand();
        CommandLine cl = new CommandLine(root);
        // As getopt (qemu-img) and virsh: an option's value is the next word, even "-l" or "--x".
        cl.setAllowOptionsAsOptionParameters(true);
        CommandLine img = cl.getSubcommands().get("img");
        // "resize FILE -1G": a negative size is an argument, as in qemu-img.
        img.getSubcommands().get("resize").setUnmatchedOptionsArePositionalParams(true);
        ImgCommand.useQemuImgHelp(img);
        // Plain text, as qemu-img and virsh print it; this also spares picocli's terminal probe
        // (System.console()), which costs start-up time.
        cl.setColorScheme(CommandLine.Help.defaultColorScheme(CommandLine.Help.Ansi.OFF));
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

    private static void report(PrintWriter err, Exception shown, Exception cause, boolean debug) {
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
