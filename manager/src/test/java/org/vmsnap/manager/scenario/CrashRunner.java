package org.vmsnap.manager.scenario;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.vmsnap.manager.plan.CrashPoint;

/**
 * Crashes one operation at each of its steps in turn, each time on a freshly built domain, then
 * lets the next process (a new DomainService) finish or undo it, and verifies that the domain is
 * exactly in the state before the operation or exactly in the state after it, and still works.
 */
final class CrashRunner {
    /** Builds the domain the operation starts from, in a folder of its own. */
    interface Setup {
        ScenarioFixture build(Path root) throws IOException;
    }

    /** The operation under test, through the fixture (which updates its model only on success). */
    interface Operation {
        void run(ScenarioFixture f) throws IOException;
    }

    /** The model the operation leads to when it completes. */
    interface Expected {
        Model after(ScenarioFixture f);
    }

    /** Where the process dies. */
    enum When {
        /** Right before step N starts (the hook). */
        BEFORE_STEP,
        /**
         * After step N-1 completed but before the journal recorded it: the hook stops before step N,
         * then the journal's last "done" line is removed, so the next process sees a step it must
         * redo or undo although it already ran (a kill in that window).
         */
        AFTER_STEP_UNRECORDED
    }

    /** What happened at each step: "old" (undone) or "new" (finished). */
    record Outcome(int steps, List<String> states) {
    }

    private CrashRunner() {
    }

    /** s1 (internal) - e1 (external) - m1 (vda internal, vdb external), current m1, disks changed since. */
    static ScenarioFixture mixedTree(Path root) throws IOException {
        ScenarioFixture f = ScenarioFixture.twoQcow2(root);
        f.fill();
        f.create("s1", ScenarioFixture.NONE);
        f.fill();
        f.create("e1", ScenarioFixture.DISK_ONLY);
        f.fill();
        f.create("m1", ScenarioFixture.NONE, ScenarioFixture.I, ScenarioFixture.E);
        f.fill();
        return f;
    }

    static Outcome crashAtEveryStep(Path root, String what, When when, Setup setup, Operation op, Expected expected)
            throws IOException {
        List<String> states = new ArrayList<>();
        for (int step = when == When.BEFORE_STEP ? 1 : 2; step < 100; step++) {
            ScenarioFixture f = setup.build(root.resolve(when + "-" + step));
            Model before = f.model;
            Model after = expected.after(f);
            boolean crashed = false;
            CrashPoint.arm(step);
            try {
                op.run(f);
            } catch (CrashPoint.SimulatedCrash e) {
                crashed = true;
            } finally {
                CrashPoint.arm(0);
            }
            if (!crashed) {
                // The operation has fewer steps: it ran to the end.
                f.verify();
                assertThat(step).as("%s has steps to crash at", what).isGreaterThan(when == When.BEFORE_STEP ? 1 : 2);
                return new Outcome(step - 1, states);
            }
            Path journal = f.home.resolve(ScenarioFixture.DOMAIN).resolve("journal");
            assertThat(journal).as("journal of %s interrupted before step %d", what, step).exists();
            if (when == When.AFTER_STEP_UNRECORDED) {
                unrecordLastStep(journal);
            }
            f.reopen();
            f.service().tree(); // the next command finishes or undoes the interrupted one
            String state = settle(f, before, after, what + ", crash " + when + " " + step);
            states.add(state);
            // The mirror beside the images went back or forward with the plan: losing the state
            // folder now loses nothing.
            RecoverExactTest.assertRecoversExactly(f, step % 2 == 0);
            // The domain still works: a new snapshot (every other crash a revert to it too).
            f.fill();
            f.create("after-crash", ScenarioFixture.DISK_ONLY);
            if (step % 2 == 0) {
                f.fill();
                f.revert("after-crash");
            }
            f.verify();
        }
        throw new AssertionError(what + ": still crashing at step 100");
    }

    /** The fixture's model becomes whichever of before/after the domain is in; fails if it is in neither. */
    static String settle(ScenarioFixture f, Model before, Model after, String what) throws IOException {
        Model expectedAfter = after;
        // The metadata says which state to compare with first (a full comparison with the wrong one is slow to fail).
        var tree = f.service().tree();
        java.util.Map<String, String> parents = new java.util.HashMap<>();
        tree.all().forEach(s -> parents.put(s.name(), s.parent()));
        java.util.Map<String, String> beforeParents = new java.util.HashMap<>();
        before.snaps.values().forEach(s -> beforeParents.put(s.name(), s.parent()));
        if (parents.equals(beforeParents) && java.util.Objects.equals(tree.current(), before.current)) {
            Model t = before;
            before = after;
            after = t;
        }
        try {
            f.verify(after);
            f.model = after;
            return after == expectedAfter ? "new" : "old";
        } catch (AssertionError notAfter) {
            try {
                f.verify(before);
                f.model = before;
                return before == expectedAfter ? "new" : "old";
            } catch (AssertionError notBefore) {
                AssertionError e = new AssertionError(what + ": neither the state before nor the state after:\n"
                        + "  vs " + (after == expectedAfter ? "after" : "before") + ": " + notAfter.getMessage()
                        + "\n  vs " + (before == expectedAfter ? "after" : "before") + ": " + notBefore.getMessage());
                e.addSuppressed(notAfter);
                e.addSuppressed(notBefore);
                throw e;
            }
        }
    }

    /** Drops the journal's last "done N" line (the format is documented in plan.Journal). */
    private static void unrecordLastStep(Path journal) throws IOException {
        List<String> lines = new ArrayList<>(Files.readAllLines(journal));
        assertThat(lines.getLast()).as("last line of %s", journal).startsWith("done ");
        lines.removeLast();
        Files.write(journal, lines);
    }
}
