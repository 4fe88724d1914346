package org.vmsnap.cli.virsh;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import org.vmsnap.manager.InvalidInputException;
import org.vmsnap.manager.SnapshotTree;
import org.vmsnap.manager.xml.SnapshotDef;
import org.vmsnap.manager.xml.SnapshotXml;

/**
 * The virsh fixtures under src/test/resources/virsh, made by make-fixtures.sh with libvirt's test
 * driver: a snapshot tree (tree/*.xml, "delta" current) and what virsh printed for it.
 */
final class Fixtures {
    static final String[] TREE_FILES = {"1-base", "2-Alpha", "3-beta", "4-gamma", "5-delta", "6-eps", "7-Zroot",
        "8-zchild"};

    /** One case: its id, the arguments, what virsh printed on stdout, and its error line (or null). */
    record Case(String id, List<String> args, String out, String err) {
        @Override
        public String toString() {
            return id + " " + args;
        }
    }

    private Fixtures() {
    }

    static String read(String path) {
        try (InputStream in = Fixtures.class.getResourceAsStream("/virsh/" + path)) {
            return in == null ? null : new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static SnapshotTree tree() throws InvalidInputException {
        List<SnapshotDef> snaps = new ArrayList<>();
        for (String f : TREE_FILES) {
            snaps.add(SnapshotXml.parse(read("tree/" + f + ".xml")));
        }
        return new SnapshotTree(snaps, "delta");
    }

    /** The cases of a cases file (ID|ARGS lines) with their outputs in folder/ID.out and .err. */
    static List<Case> cases(String casesFile, String folder) {
        List<Case> out = new ArrayList<>();
        for (String line : read(casesFile).split("\n")) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            int bar = line.indexOf('|');
            String id = line.substring(0, bar);
            String err = read(folder + "/" + id + ".err");
            out.add(new Case(id, split(line.substring(bar + 1)), read(folder + "/" + id + ".out"),
                    err == null ? null : err.strip().replaceFirst("^error: ", "")));
        }
        return out;
    }

    /** Splits arguments as virsh's command parser does for these cases: quotes and backslashes. */
    static List<String> split(String s) {
        List<String> args = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        boolean inArg = false;
        char quote = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (quote != 0) {
                if (c == quote) {
                    quote = 0;
                } else {
                    cur.append(c);
                }
            } else if (c == '\'' || c == '"') {
                quote = c;
                inArg = true;
            } else if (c == '\\' && i + 1 < s.length()) {
                cur.append(s.charAt(++i));
                inArg = true;
            } else if (c == ' ') {
                if (inArg) {
                    args.add(cur.toString());
                    cur.setLength(0);
                    inArg = false;
                }
            } else {
                cur.append(c);
                inArg = true;
            }
        }
        if (inArg) {
            args.add(cur.toString());
        }
        return args;
    }
}
