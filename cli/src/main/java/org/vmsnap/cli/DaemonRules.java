package org.vmsnap.cli;

import java.io.PrintWriter;
import java.io.Writer;
import java.nio.file.Path;
import java.util.Set;

import picocli.CommandLine;

/**
 * Which commands the daemon runs for a client (the launcher asks it for these only; the daemon
 * decides again here). Short commands that read no file the user names, or name only absolute
 * ones: they gain most from a warm JVM, and a relative name can never meet the daemon's folder
 * instead of the user's. The data verbs (convert, save, a long commit) stay in their own JVM,
 * where Ctrl-C stops them and a progress bar reaches the terminal.
 */
public final class DaemonRules {
    /** virsh verbs: domain names and options, or files only through {@link Cwd} (snapshot-create-as). */
    static final Set<String> VERBS = Set.of("list", "dominfo", "domstate", "domid", "domblklist", "dumpxml",
            "domjobinfo", "domfsinfo", "domfsfreeze", "domfsthaw", "destroy", "shutdown", "reboot", "suspend",
            "resume", "start", "snapshot-list", "snapshot-info", "snapshot-current", "snapshot-dumpxml",
            "snapshot-parent", "snapshot-create-as", "snapshot-delete", "snapshot-revert");

    private DaemonRules() {
    }

    /**
     * True when {@code args} may start a QEMU process, which gets the environment and working folder
     * of the JVM that runs the command: a start, and a revert that ends with the domain running or
     * paused (SnapshotRevertCommand.mayStartQemu, which reads the snapshot's state in {@code home}).
     * Words that do not parse count as starting it (the user's own JVM reports them).
     */
    public static boolean startsQemu(Path home, String... args) {
        int at = 0;
        while (at < args.length && args[at].equals("--debug")) {
            at++;
        }
        if (at >= args.length) {
            return false;
        }
        if (args[at].equals("start")) {
            return true;
        }
        if (!args[at].equals("snapshot-revert")) {
            return false;
        }
        CommandLine.ParseResult leaf = parsedLeaf(args);
        return leaf == null || !(leaf.commandSpec().userObject() instanceof org.vmsnap.cli.virsh.SnapshotRevertCommand r)
                || r.mayStartQemu(new org.vmsnap.manager.DomainService(home, line -> { }));
    }

    /** The innermost subcommand's parse of {@code args}, or null when they do not parse. */
    private static CommandLine.ParseResult parsedLeaf(String... args) {
        PrintWriter none = new PrintWriter(Writer.nullWriter());
        Main.Parsed p = Main.parse(none, none, args);
        if (p == null) {
            return null;
        }
        CommandLine.ParseResult leaf = p.result();
        while (leaf.subcommand() != null) {
            leaf = leaf.subcommand();
        }
        return leaf;
    }

    /** True when the daemon may run {@code args} for a client. */
    public static boolean accepts(String... args) {
        int at = 0;
        while (at < args.length && args[at].equals("--debug")) {
            at++;
        }
        if (at >= args.length || (at == args.length - 1 && CommandString.is(args[at]))) {
            return false; // the shell reads stdin; a command string may hold any command
        }
        for (String a : args) {
            if (a.equals("--verbose")) {
                return false; // a progress bar is drawn only on the user's terminal
            }
        }
        String verb = args[at];
        if (VERBS.contains(verb)) {
            return true;
        }
        if (!verb.equals("img") || at + 1 >= args.length) {
            return false;
        }
        String sub = args[at + 1];
        return (sub.equals("info") || sub.equals("snapshot")) && namesAbsoluteFiles(args);
    }

    /**
     * True when every file the img verb ({@code info}, {@code snapshot} with any of -l, -c, -a,
     * -d: metadata of one image, in milliseconds) names is absolute: qemu-img prints names as given
     * ("image: disk.qcow2", "backing file: ... (actual path: dir/base.qcow2)"), so a relative name
     * must stay relative, which only its own JVM can open. Words that do not parse are left to it
     * too (their error is the same there).
     */
    static boolean namesAbsoluteFiles(String... args) {
        CommandLine.ParseResult leaf = parsedLeaf(args);
        if (leaf == null) {
            return false;
        }
        for (CommandLine.Model.PositionalParamSpec pos : leaf.matchedPositionals()) {
            for (String v : pos.stringValues()) {
                try {
                    if (!Path.of(v).isAbsolute()) {
                        return false;
                    }
                } catch (java.nio.file.InvalidPathException e) {
                    return false; // its own JVM says what is wrong with it
                }
            }
        }
        return true;
    }
}
