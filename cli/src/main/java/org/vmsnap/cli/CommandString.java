package org.vmsnap.cli;

import java.util.ArrayList;
import java.util.List;

/**
 * A command string split into commands and their words as virsh's parser splits it
 * (vshCommandStringGetArg): blanks separate words; {@code ;} and a newline end a command;
 * {@code '...'} keeps everything as it is; {@code "..."} keeps everything but a backslash,
 * which escapes the next character as it does outside quotes; a backslash before a newline
 * joins the lines; a word that starts with {@code #} starts a comment to the end of the line.
 * Unlike virsh, an unterminated single quote is an error too, not a word that runs to the end
 * (a missing quote in {@code snapshot-delete vm 'old} should not name a snapshot).
 */
final class CommandString {
    private CommandString() {
    }

    /**
     * True when a single command-line argument is a command string rather than one word: it
     * has a blank, a {@code ;} or a newline, which no command name has. File names with spaces
     * are never a lone argument ({@code img info "a b.qcow2"} is two).
     */
    static boolean is(String arg) {
        for (int i = 0; i < arg.length(); i++) {
            char c = arg.charAt(i);
            if (c == ' ' || c == '\t' || c == '\n' || c == ';') {
                return true;
            }
        }
        return false;
    }

    /**
     * The commands of {@code text}, each a non-empty list of words; empty commands (";;",
     * a blank line, a trailing ";") are left out.
     *
     * @throws CliException for a dangling backslash or a missing closing quote, before any
     *     command is returned (virsh runs nothing of a string it cannot read)
     */
    static List<List<String>> split(String text) {
        List<List<String>> commands = new ArrayList<>();
        List<String> words = new ArrayList<>();
        int at = 0;
        int n = text.length();
        while (true) {
            while (at < n && (text.charAt(at) == ' ' || text.charAt(at) == '\t'
                    || text.startsWith("\\\n", at))) {
                at += text.charAt(at) == '\\' ? 2 : 1;
            }
            if (at >= n) {
                break;
            }
            char c = text.charAt(at);
            if (c == ';' || c == '\n' || c == '\r' && at + 1 < n && text.charAt(at + 1) == '\n') {
                at += c == '\r' ? 2 : 1;
                end(commands, words);
                words = new ArrayList<>();
                continue;
            }
            if (c == '#') {
                int eol = text.indexOf('\n', at);
                at = eol < 0 ? n : eol;
                continue;
            }
            StringBuilder word = new StringBuilder();
            char quote = 0;
            int quoteAt = -1;
            while (at < n) {
                c = text.charAt(at);
                if (quote == 0 && (c == ' ' || c == '\t' || c == ';' || c == '\n'
                        || c == '\r' && at + 1 < n && text.charAt(at + 1) == '\n')) {
                    break;
                }
                if (quote != '"' && c == '\'') {
                    quote = quote == 0 ? '\'' : 0;
                    quoteAt = at++;
                    continue;
                }
                if (quote != '\'' && c == '"') {
                    quote = quote == 0 ? '"' : 0;
                    quoteAt = at++;
                    continue;
                }
                if (quote != '\'' && c == '\\') {
                    if (at + 1 >= n) {
                        throw new CliException("dangling \\ at the end of '" + text.strip() + "'");
                    }
                    at++;
                    if (text.charAt(at) == '\n') {
                        at++;
                        continue;
                    }
                }
                word.append(text.charAt(at++));
            }
            if (quote != 0) {
                throw new CliException("missing " + quote + " (the one at offset " + quoteAt + " of '" + text.strip()
                        + "' is not closed)");
            }
            words.add(word.toString());
        }
        end(commands, words);
        return commands;
    }

    private static void end(List<List<String>> commands, List<String> words) {
        if (!words.isEmpty()) {
            commands.add(List.copyOf(words));
        }
    }
}
