package org.vmsnap.manager.plan;

import java.util.List;

import org.vmsnap.manager.ManagerException;

/**
 * A plan's step failed. {@link #undone()} tells whether everything done before was undone (the
 * old state is back) or whether the plan stays journaled to be finished by the next command.
 */
public final class PlanFailedException extends ManagerException {
    private static final long serialVersionUID = 1L;

    private final transient Step failed;
    private final boolean undone;
    private final List<String> undoProblems;

    PlanFailedException(String message, Step failed, boolean undone, List<String> undoProblems, Throwable cause) {
        super(message, cause);
        this.failed = failed;
        this.undone = undone;
        this.undoProblems = List.copyOf(undoProblems);
    }

    public Step failedStep() {
        return failed;
    }

    public boolean undone() {
        return undone;
    }

    public List<String> undoProblems() {
        return undoProblems;
    }
}
