package org.vmsnap.cli.virsh;

import java.util.ArrayList;
import java.util.List;

/**
 * virsh's table layout (vshTable): a space before every cell, cells padded to their column's
 * widest entry plus two spaces (the last cell is not padded), and under the header a rule of
 * dashes as long as the column widths plus three per column.
 */
final class VshTable {
    private final List<List<String>> rows = new ArrayList<>();

    VshTable(String... header) {
        rows.add(List.of(header));
    }

    VshTable row(String... cells) {
        if (cells.length != rows.getFirst().size()) {
            throw new IllegalArgumentException("a row of " + cells.length + " cells in a table of "
                    + rows.getFirst().size() + " columns");
        }
        rows.add(List.of(cells));
        return this;
    }

    /** The table with its header, as virsh prints it (each line ends with a newline). */
    String render() {
        int columns = rows.getFirst().size();
        int[] widths = new int[columns];
        for (List<String> r : rows) {
            for (int i = 0; i < columns; i++) {
                widths[i] = Math.max(widths[i], width(r.get(i)));
            }
        }
        StringBuilder b = new StringBuilder();
        line(b, rows.getFirst(), widths);
        for (int w : widths) {
            b.append("-".repeat(w + 3));
        }
        b.append('\n');
        for (List<String> r : rows.subList(1, rows.size())) {
            line(b, r, widths);
        }
        return b.toString();
    }

    private static void line(StringBuilder b, List<String> cells, int[] widths) {
        for (int i = 0; i < cells.size(); i++) {
            b.append(' ').append(cells.get(i));
            if (i < cells.size() - 1) {
                b.append(" ".repeat(widths[i] - width(cells.get(i)) + 2));
            }
        }
        b.append('\n');
    }

    /** Display width: virsh counts columns (wcswidth), so one per character, not per byte. */
    static int width(String s) {
        return s.codePointCount(0, s.length());
    }
}
