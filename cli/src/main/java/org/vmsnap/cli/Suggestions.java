package org.vmsnap.cli;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;

/**
 * "Did you mean" for a mistyped command or option, as git does: the names the typed word
 * begins, else the names nearest by edit distance (a swap of two neighbours is one edit).
 */
public final class Suggestions {

    /** Edits allowed at most: a third of the candidate's length, between one and three. */
    private static final int MAX_EDITS = 3;

    private Suggestions() {
    }

    /**
     * The candidates the user may have meant, in the given order: those that begin with
     * {@code typed} (as git ranks them first), else those nearest by edit distance; empty when
     * none is near.
     */
    public static List<String> nearest(String typed, Collection<String> candidates) {
        String t = typed.toLowerCase(Locale.ROOT);
        List<String> found = new ArrayList<>();
        if (t.replace("-", "").length() >= 2) {
            for (String c : candidates) {
                if (lastWord(c).toLowerCase(Locale.ROOT).startsWith(t)) {
                    found.add(c);
                }
            }
        }
        if (!found.isEmpty()) {
            return found;
        }
        int best = Integer.MAX_VALUE;
        for (String c : candidates) {
            String word = lastWord(c).toLowerCase(Locale.ROOT);
            // "-f" and "-o" are one edit apart: short names are suggested only by prefix.
            int d = word.length() <= 2 ? Integer.MAX_VALUE : distance(t, word);
            if (d > Math.clamp(word.length() / 3, 1, MAX_EDITS)) {
                continue;
            }
            if (d < best) {
                best = d;
                found.clear();
            }
            if (d == best) {
                found.add(c);
            }
        }
        return found;
    }

    /**
     * The lines after an error line: a blank line, then git's "The most similar command is"
     * and the names indented by a tab; nothing when there are none.
     */
    public static String block(String noun, List<String> names) {
        if (names.isEmpty()) {
            return "";
        }
        StringBuilder b = new StringBuilder("\nThe most similar ").append(noun)
                .append(names.size() == 1 ? " is\n" : "s are\n");
        names.forEach(n -> b.append('\t').append(n).append('\n'));
        return b.toString();
    }

    /** "img info" is compared by "info": the word the user typed at that level. */
    private static String lastWord(String name) {
        return name.substring(name.lastIndexOf(' ') + 1);
    }

    /** Optimal string alignment distance: insert, delete, substitute, swap neighbours. */
    static int distance(String a, String b) {
        int[][] d = new int[a.length() + 1][b.length() + 1];
        for (int i = 0; i <= a.length(); i++) {
            d[i][0] = i;
        }
        for (int j = 0; j <= b.length(); j++) {
            d[0][j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                d[i][j] = Math.min(Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + cost);
                if (i > 1 && j > 1 && a.charAt(i - 1) == b.charAt(j - 2) && a.charAt(i - 2) == b.charAt(j - 1)) {
                    d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
                }
            }
        }
        return d[a.length()][b.length()];
    }
}
