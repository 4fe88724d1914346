package org.vmsnap.manager.scenario;

import static org.assertj.core.api.Assertions.assertThat;
import static org.vmsnap.manager.scenario.ScenarioFixture.DISK_ONLY;

import java.io.IOException;
import java.nio.file.Path;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.vmsnap.manager.DeleteScope;
import org.vmsnap.manager.scenario.CrashRunner.Outcome;
import org.vmsnap.manager.scenario.CrashRunner.When;

/**
 * Deleting an external snapshot merges its frozen images with their only overlays, by commit or
 * by pull; interrupted at every step (and after every step, before the journal recorded it), the
 * next command finishes or undoes it: old or new state, never a disk on a removed file.
 */
class MergeCrashTest {
    @TempDir
    Path tmp;

    private static void assertFinishes(Outcome o) {
        assertThat(o.states()).as("state after each crash").isNotEmpty().contains("new");
    }

    /** e1 then e2 on both disks; {@code bigFirst}: much written between e1 and e2, else after e2. */
    private static ScenarioFixture externalChain(Path root, boolean bigFirst) throws IOException {
        ScenarioFixture f = ScenarioFixture.twoQcow2(root);
        f.fill();
        f.create("e1", DISK_ONLY);
        if (bigFirst) {
            f.write("vda", 0, 3 << 20);
        }
        f.fill();
        f.create("e2", DISK_ONLY);
        if (!bigFirst) {
            f.write("vda", 0, 3 << 20);
        }
        f.fill();
        return f;
    }

    /** e2's frozen images hold much, its overlays little: the overlays are committed into them. */
    @ParameterizedTest
    @EnumSource(When.class)
    void externalMergedByCommit(When when) throws IOException {
        assertFinishes(CrashRunner.crashAtEveryStep(tmp, "delete external (commit)", when,
                root -> externalChain(root, true),
                f -> f.delete("e2", DeleteScope.SNAPSHOT), f -> f.model.delete("e2", DeleteScope.SNAPSHOT)));
    }

    /** e2's frozen images hold little, its overlays much: the frozen images are pulled into the overlays. */
    @ParameterizedTest
    @EnumSource(When.class)
    void externalMergedByPull(When when) throws IOException {
        assertFinishes(CrashRunner.crashAtEveryStep(tmp, "delete external (pull)", when,
                root -> externalChain(root, false),
                f -> f.delete("e2", DeleteScope.SNAPSHOT), f -> f.model.delete("e2", DeleteScope.SNAPSHOT)));
    }
}
