package org.vmsnap.manager.plan;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs plans through an executor with a journal, and finishes or undoes the plan an earlier
 * process left behind.
 *
 * <p>The rule that makes a crash harmless: a plan is rolled back while only reversible steps
 * have been started, and rolled forward once an irreversible one has been started (planners put
 * every irreversible step after all checks and reversible preparation). Each step is marked
 * done in the journal after it completes, so after a crash the step in progress is the first
 * one not marked; it is undone or run again, both of which are safe on a half-done step.
 *
 * <p>A step that is {@linkplain Step#markWithNext marked with the next} gets no mark of its own
 * (a "done N" line counts every step up to N): no journal sync falls between it and the next step.
 * Recovery therefore takes the step after it as begun too; both are reversible, so the plan is
 * undone through it, and their undos are safe on a step that never ran.
 */
public final class PlanRunner {
    private final Journal journal;
    private final StepExecutor executor;

    public PlanRunner(Journal journal, StepExecutor executor) {
        this.journal = journal;
        this.executor = executor;
    }

    public void run(Plan plan) throws IOException {
        List<Step> steps = plan.steps();
        checkMarks(steps);
        journal.begin(plan.what(), steps);
        int done = 0;
        try {
            for (Step s : steps) {
                CrashPoint.before(done + 1);
                executor.runFirst(s); // a new plan: no earlier process started this step
                done++;
                if (s.markWithNext()) {
                    continue; // marked with the next step
                }
                try {
                    journal.markDone(done);
                } catch (IOException e) {
                    throw new JournalWriteException(plan.what(), s, e);
                }
            }
        } catch (JournalWriteException e) {
            // The step ran but the journal cannot say so: undoing without a journal could leave a
            // mix, so the plan stays journaled as it is and the next command redoes or undoes the
            // step (both safe on a step that completed).
            throw e;
        } catch (IOException | RuntimeException e) {
            Step failed = steps.get(done);
            fail(plan.what(), steps, done, failed, e);
        } finally {
            CrashPoint.planFinished();
        }
        journal.finish();
    }

    /** The journal could not record a step that ran: that I/O error, with what it interrupted. */
    public static final class JournalWriteException extends IOException {
        private static final long serialVersionUID = 1L;

        JournalWriteException(String what, Step step, IOException cause) {
            super(what + ": " + step.describe() + " was done, but recording it in the journal failed ("
                    + (cause.getMessage() == null ? cause.toString() : cause.getMessage())
                    + "); the operation stays journaled and the next command on the domain finishes or undoes it",
                    cause);
        }
    }

    private void fail(String what, List<Step> steps, int done, Step failed, Exception cause) throws IOException {
        String reason = cause.getMessage() == null ? cause.toString() : cause.getMessage();
        // A step that failed before changing anything is not undone: only the steps before it.
        int last = cause instanceof StepNotStartedException ? done - 1 : done;
        if (irreversibleStarted(steps, last)) {
            throw new PlanFailedException(what + " failed at " + failed.describe() + ": " + reason
                    + "; the operation stays journaled and the next command on the domain finishes it",
                    failed, false, List.of(), cause);
        }
        List<String> problems = rollBack(steps, last);
        if (problems.isEmpty()) {
            journal.finish();
            throw new PlanFailedException(what + " failed at " + failed.describe() + ": " + reason
                    + " (nothing was changed)", failed, true, problems, cause);
        }
        throw new PlanFailedException(what + " failed at " + failed.describe() + ": " + reason
                + "; undoing it also failed (" + String.join("; ", problems)
                + "); the next command on the domain retries the undo", failed, false, problems, cause);
    }

    /** A step marked with the next is reversible and so is the next one (see the class comment). */
    static void checkMarks(List<Step> steps) {
        for (int i = 0; i < steps.size(); i++) {
            Step s = steps.get(i);
            if (s.markWithNext() && (!s.reversible() || i + 1 == steps.size() || !steps.get(i + 1).reversible())) {
                throw new IllegalStateException("step " + (i + 1) + " (" + s.describe() + ") is marked done with the"
                        + " next, which needs it and the next step reversible");
            }
        }
    }

    /**
     * The last step that may have begun when the journal says {@code done} steps finished: the first
     * not marked, or further when that one and its followers are marked with the next.
     */
    static int lastBegun(List<Step> steps, int done) {
        int last = done;
        while (last + 1 < steps.size() && steps.get(last).markWithNext()) {
            last++;
        }
        return last;
    }

    /** Steps 0..done (the one in progress included) contain an irreversible one. */
    static boolean irreversibleStarted(List<Step> steps, int done) {
        for (int i = 0; i <= done && i < steps.size(); i++) {
            if (!steps.get(i).reversible()) {
                return true;
            }
        }
        return false;
    }

    /** Undoes steps done..0 (the one in progress first; none when done is -1); returns what could not be undone. */
    private List<String> rollBack(List<Step> steps, int done) {
        List<String> problems = new ArrayList<>();
        for (int i = Math.min(done, steps.size() - 1); i >= 0; i--) {
            try {
                executor.undo(steps.get(i));
            } catch (IOException | RuntimeException e) {
                problems.add(steps.get(i).describe() + ": " + e.getMessage());
            }
        }
        return problems;
    }

    /**
     * Finishes or undoes the plan an earlier process left in the journal; nothing when there is
     * none. Returns a one-line account, or null.
     */
    public String recover() throws IOException {
        if (!journal.exists()) {
            return null;
        }
        Journal.Entry entry = journal.read();
        List<Step> steps = entry.steps();
        int done = entry.done();
        if (irreversibleStarted(steps, done)) {
            try {
                for (int i = done; i < steps.size(); i++) {
                    CrashPoint.before(i + 1); // a crash while finishing: the next command goes on from here
                    try {
                        executor.run(steps.get(i));
                    } catch (StepNotStartedException e) {
                        // The step the crash interrupted proves it never happened (a QMP transaction
                        // QEMU did not run): if it was the first that cannot be undone, the plan
                        // can still be undone.
                        if (i == done && !irreversibleStarted(steps, done - 1)) {
                            return undo(entry, steps, done - 1);
                        }
                        throw e;
                    }
                    journal.markDone(i + 1);
                }
            } finally {
                CrashPoint.planFinished();
            }
            journal.finish();
            return "finished the interrupted " + entry.what();
        }
        return undo(entry, steps, lastBegun(steps, done));
    }

    private String undo(Journal.Entry entry, List<Step> steps, int done) throws IOException {
        List<String> problems = rollBack(steps, done);
        if (!problems.isEmpty()) {
            throw new PlanFailedException("undoing the interrupted " + entry.what() + " failed: "
                    + String.join("; ", problems), null, false, problems, null);
        }
        journal.finish();
        return "undid the interrupted " + entry.what();
    }
}
