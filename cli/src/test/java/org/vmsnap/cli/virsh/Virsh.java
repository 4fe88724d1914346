package org.vmsnap.cli.virsh;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.vmsnap.cli.Cli;

/**
 * The oracle: virsh 9.0 on libvirt's test driver ({@code test:///default}, no daemon), running a
 * whole command sequence in one connection (the driver forgets everything when virsh exits).
 * A missing virsh fails the test; it is installed by the test command (libvirt-clients).
 */
final class Virsh {
    private Virsh() {
    }

    /**
     * Runs the commands in one virsh and returns, per command, what it printed: stdout, and its
     * "error: " lines as stderr (exit code 1 when there were any).
     */
    static List<Cli.Run> session(List<List<String>> commands) throws IOException, InterruptedException {
        StringBuilder line = new StringBuilder();
        for (int i = 0; i < commands.size(); i++) {
            for (String a : commands.get(i)) {
                if (a.contains("'")) {
                    throw new IllegalArgumentException("no quotes in virsh test arguments: " + a);
                }
                line.append('\'').append(a).append("' ");
            }
            line.append("; echo @@").append(i).append("; ");
        }
        // Unbuffered, so that error lines stay where virsh printed them among the output.
        ProcessBuilder pb = new ProcessBuilder("stdbuf", "-o0", "-e0", "virsh", "-c", "test:///default",
                line.toString());
        pb.environment().put("LC_ALL", "C");
        pb.environment().put("TZ", "UTC");
        pb.redirectErrorStream(true);
        Process p = pb.start();
        String all = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("virsh did not finish");
        }
        List<Cli.Run> runs = new ArrayList<>();
        int from = 0;
        for (int i = 0; i < commands.size(); i++) {
            String marker = "@@" + i + "\n";
            int at = all.indexOf(marker, from);
            if (at < 0) {
                throw new AssertionError("virsh stopped before command " + i + " " + commands.get(i) + ":\n" + all);
            }
            StringBuilder out = new StringBuilder();
            StringBuilder err = new StringBuilder();
            for (String l : all.substring(from, at).split("(?<=\n)")) {
                (l.startsWith("error: ") ? err : out).append(l);
            }
            runs.add(new Cli.Run(err.isEmpty() ? 0 : 1, out.toString(), err.toString()));
            from = at + marker.length();
        }
        return runs;
    }

    /**
     * One command given as virsh's own arguments, for commands that do not parse: virsh refuses
     * a whole command line when one of its commands has a usage error, so these cannot share a
     * session.
     */
    static Cli.Run once(List<String> args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("virsh", "-c", "test:///default"));
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("LC_ALL", "C");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("virsh did not finish");
        }
        return new Cli.Run(p.exitValue(), out, err);
    }

    /** virsh's error lines as vmsnap's one line: "error: A" + "error: B" is "A: B". */
    static String oneLine(String virshErr) {
        return String.join(": ", virshErr.lines().map(l -> l.substring("error: ".length())).toList());
    }
}
