package org.vmsnap.manager.scenario;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.vmsnap.manager.DeleteScope;
import org.vmsnap.manager.scenario.CrashRunner.Outcome;
import org.vmsnap.manager.scenario.CrashRunner.When;

/**
 * snapshot-delete interrupted at every step (and after every step, before the journal recorded
 * it): an internal root with a child and --children over a mixed tree (merges: MergeCrashTest). The next
 * command finishes or undoes it; every remaining snapshot keeps its data, nothing is orphaned.
 */
class DeleteCrashTest {
    @TempDir
    Path tmp;

    private static void assertFinishes(Outcome o) {
        assertThat(o.states()).as("state after each crash").isNotEmpty().contains("new");
    }

    @ParameterizedTest
    @EnumSource(When.class)
    void internalRootWithAChild(When when) throws IOException {
        assertFinishes(CrashRunner.crashAtEveryStep(tmp, "delete internal", when, CrashRunner::mixedTree,
                f -> f.delete("s1", DeleteScope.SNAPSHOT), f -> f.model.delete("s1", DeleteScope.SNAPSHOT)));
    }

    @ParameterizedTest
    @EnumSource(When.class)
    void withChildren(When when) throws IOException {
        assertFinishes(CrashRunner.crashAtEveryStep(tmp, "delete --children", when, CrashRunner::mixedTree,
                f -> f.delete("e1", DeleteScope.CHILDREN), f -> f.model.delete("e1", DeleteScope.CHILDREN)));
    }
}
