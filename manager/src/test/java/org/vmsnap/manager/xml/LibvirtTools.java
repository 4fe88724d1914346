package org.vmsnap.manager.xml;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * libvirt 9.0's own tools as test oracles: {@code virt-xml-validate} and {@code virsh} on the
 * test driver (in-process, no daemon, nothing on the host touched). A missing tool fails the
 * test; it never skips it.
 */
final class LibvirtTools {
    private LibvirtTools() {
    }

    /** {@code virt-xml-validate file schema}; fails with the tool's output unless the file validates. */
    static void validate(Path file, String schema) {
        Result r = run(List.of("virt-xml-validate", file.toString(), schema));
        if (r.exit != 0) {
            throw new AssertionError("virt-xml-validate " + file.getFileName() + " " + schema + " failed (exit "
                    + r.exit + "):\n" + r.stdout + r.stderr);
        }
    }

    /**
     * {@code virsh -q -c test:///default 'cmd; cmd; ...'}: all commands in one connection (the
     * test driver forgets everything when it ends). Fails if any command reported an error.
     */
    static String virsh(String commands) {
        Result r = run(List.of("virsh", "-q", "-c", "test:///default", commands));
        if (r.exit != 0 || r.stderr.contains("error:")) {
            throw new AssertionError("virsh '" + commands + "' failed (exit " + r.exit + "):\n" + r.stderr);
        }
        return r.stdout;
    }

    /** The XML documents with root {@code tag} in virsh's output, in order. */
    static List<String> documents(String output, String tag) {
        List<String> out = new ArrayList<>();
        String open = "<" + tag;
        String close = "</" + tag + ">\n";
        int from = 0;
        while (true) {
            int start = output.indexOf(open, from);
            if (start < 0) {
                return out;
            }
            int end = output.indexOf(close, start);
            if (end < 0) {
                throw new AssertionError("unterminated <" + tag + "> in virsh output:\n" + output);
            }
            out.add(output.substring(start, end + close.length()));
            from = end + close.length();
        }
    }

    private record Result(int exit, String stdout, String stderr) {
    }

    private static Result run(List<String> command) {
        try {
            Process p = new ProcessBuilder(command).start();
            p.getOutputStream().close();
            var out = p.getInputStream().readAllBytes();
            var err = p.getErrorStream().readAllBytes();
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError(command.get(0) + " did not finish in 60 s");
            }
            return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8),
                    new String(err, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new AssertionError(command.get(0) + " cannot run (libvirt 9 clients must be installed: "
                    + "apt-get install libvirt-clients): " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
