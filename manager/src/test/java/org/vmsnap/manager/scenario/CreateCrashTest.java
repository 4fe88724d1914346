package org.vmsnap.manager.scenario;

import static org.assertj.core.api.Assertions.assertThat;
import static org.vmsnap.manager.scenario.ScenarioFixture.DISK_ONLY;
import static org.vmsnap.manager.scenario.ScenarioFixture.E;
import static org.vmsnap.manager.scenario.ScenarioFixture.I;
import static org.vmsnap.manager.scenario.ScenarioFixture.NONE;

import java.io.IOException;
import java.nio.file.Path;

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

    private static void assertUndone(Outcome o) {
        assertThat(o.states()).as("state after each crash (create is undone)").isNotEmpty().containsOnly("old");
    }

    @ParameterizedTest
    @EnumSource(When.class)
    void internal(When when) throws IOException {
        assertUndone(CrashRunner.crashAtEveryStep(tmp, "create internal", when, CrashRunner::mixedTree,
                f -> f.create("x", NONE), f -> f.afterCreate("x", NONE)));
    }

    @ParameterizedTest
    @EnumSource(When.class)
    void external(When when) throws IOException {
        assertUndone(CrashRunner.crashAtEveryStep(tmp, "create external", when, CrashRunner::mixedTree,
                f -> f.create("x", DISK_ONLY), f -> f.afterCreate("x", DISK_ONLY)));
    }

    @ParameterizedTest
    @EnumSource(When.class)
    void mixed(When when) throws IOException {
        assertUndone(CrashRunner.crashAtEveryStep(tmp, "create mixed", when, CrashRunner::mixedTree,
                f -> f.create("x", NONE, E, I), f -> f.afterCreate("x", NONE, E, I)));
    }

    @ParameterizedTest
    @EnumSource(When.class)
    void firstSnapshotOfAQcow2AndARawDisk(When when) throws IOException {
        assertUndone(CrashRunner.crashAtEveryStep(tmp, "create first", when, root -> {
            ScenarioFixture f = ScenarioFixture.create(root, DiskSpec.qcow2(4), DiskSpec.raw(4));
            f.fill();
            return f;
        }, f -> f.create("x", NONE, I, E), f -> f.afterCreate("x", NONE, I, E)));
    }
}
