package org.vmsnap.manager;

import java.util.List;

/**
 * What {@code recover} rebuilt.
 *
 * @param snapshots the recovered snapshot names, parents before children
 * @param current   the current snapshot, or null
 * @param notes     one line per thing that could not be recovered exactly (for example a lost description)
 */
public record RecoverReport(List<String> snapshots, String current, List<String> notes) {
}
