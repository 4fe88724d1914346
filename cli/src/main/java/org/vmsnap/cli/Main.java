package org.vmsnap.cli;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import picocli.CommandLine;

/**
 * vmsnap's entry point. Parses with picocli and prints; errors become one line on stderr
 * ({@code vmsnap: message}) and exit code 1 or the command's own code; {@code --debug}
 * adds the stack trace.
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
        return commandLine(out, err, isDebug(args)).execute(args);
    }

    static CommandLine commandLine(PrintWriter out, PrintWriter err, boolean debug) {
        VmsnapCommand root = new VmsnapCommand();
        CommandLine cl = new CommandLine(root);
        // "resize FILE -1G": a negative size is an argument, as in qemu-img.
        cl.getSubcommands().get("img").getSubcommands().get("resize").setUnmatchedOptionsArePositionalParams(true);
        cl.setOut(out);
        cl.setErr(err);
        cl.setParameterExceptionHandler((ex, args) -> {
            if (debug) {
                ex.printStackTrace(err);
            }
            err.println("vmsnap: " + ErrorMessages.of(ex));
            err.flush();
            return 1;
        });
        cl.setExecutionExceptionHandler((ex, cmd, parseResult) -> {
            if (debug) {
                ex.printStackTrace(err);
            }
            out.flush();
            err.println("vmsnap: " + ErrorMessages.of(ex));
            err.flush();
            return ex instanceof CliException ce ? ce.exitCode() : 1;
        });
        return cl;
    }

    /** --debug anywhere before a "--" end-of-options marker. */
    static boolean isDebug(String... args) {
        int end = Arrays.asList(args).indexOf("--");
        return Arrays.asList(args).subList(0, end < 0 ? args.length : end).contains("--debug");
    }
}
