package org.vmsnap.cli;

import java.io.PrintWriter;
import java.io.StringWriter;

/** Runs vmsnap in this process with captured output. */
public final class Cli {

    /** What one run printed and returned. */
    public record Run(int exitCode, String out, String err) {
    }

    private Cli() {
    }

    public static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(new PrintWriter(out), new PrintWriter(err), args);
        return new Run(code, out.toString(), err.toString());
    }
}
