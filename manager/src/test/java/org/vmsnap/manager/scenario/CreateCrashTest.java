package org.vmsnap.manager.scenario;

import static org.assertj.core.api.Assertions.assertThat;
import static org.vmsnap.manager.scenario.ScenarioFixture.DISK_ONLY;
import static org.vmsnap.manager.scenario.ScenarioFixture.E;
import static org.vmsnap.manager.scenario.ScenarioFixture.I;
import static org.vmsnap.manager.scenario.ScenarioFixture.NONE;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.vmsnap.manager.scenario.CrashRunner.Outcome;
import org.vmsnap.manager.scenario.CrashRunner.When;
import org.vmsnap.manager.scenario.ScenarioFixture.DiskSpec;

/**
 * snapshot-create interrupted at every step (and after every step, before the journal recorded
 * it): the next command undoes it; nothing of the attempt remains (no overlay, no internal
 * snapshot, no metadata) and the domain keeps working.
 */
class CreateCrashTest {
    @TempDir
    Path tmp;

    /**
     * Undone after a crash at any step that can be undone; finished after a crash in the tail
     * that only drops the partial links of the new overlays (one step per overlay: before the
     * first of them when the crash comes before a step, one fewer when it comes after a step the
     * journal did not record).
     */
    private static void assertUndone(Outcome o, When when, int overlays) {
        List<String> s = o.states();
        int tail = when == When.BEFORE_STEP ? overlays : Math.max(0, overlays - 1);
        assertThat(s).as("states after each crash").hasSizeGreaterThan(tail);
        assertThat(s.subList(0, s.size() - tail)).as("state after each crash (create is undone)").containsOnly("old");
        assertThat(s.subList(s.size() - tail, s.size())).as("state after a crash while dropping partial links")
                .isEqualTo(java.util.Collections.nCopies(tail, "new"));
    }

    @ParameterizedTest
    @EnumSource(When.class)
    void internal(When when) throws IOException {
        assertUndone(CrashRunner.crashAtEveryStep(tmp, "create internal", when, CrashRunner::mixedTree,
                f -> f.create("x", NONE), f -> f.afterCreate("x", NONE)), when, 0);
    }

    @ParameterizedTest
    @EnumSource(When.class)
    void external(When when) throws IOException {
        assertUndone(CrashRunner.crashAtEveryStep(tmp, "create external", when, CrashRunner::mixedTree,
                f -> f.create("x", DISK_ONLY), f -> f.afterCreate("x", DISK_ONLY)), when, 2);
    }

    @ParameterizedTest
    @EnumSource(When.class)
    void mixed(When when) throws IOException {
        assertUndone(CrashRunner.crashAtEveryStep(tmp, "create mixed", when, CrashRunner::mixedTree,
                f -> f.create("x", NONE, E, I), f -> f.afterCreate("x", NONE, E, I)), when, 1);
    }

    @ParameterizedTest
    @EnumSource(When.class)
    void firstSnapshotOfAQcow2AndARawDisk(When when) throws IOException {
        assertUndone(CrashRunner.crashAtEveryStep(tmp, "create first", when, root -> {
            ScenarioFixture f = ScenarioFixture.create(root, DiskSpec.qcow2(4), DiskSpec.raw(4));
            f.fill();
            return f;
        }, f -> f.create("x", NONE, I, E), f -> f.afterCreate("x", NONE, I, E)), when, 1);
    }
}
