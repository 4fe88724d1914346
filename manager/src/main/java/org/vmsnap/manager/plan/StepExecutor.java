package org.vmsnap.manager.plan;

import java.io.IOException;

/** Carries out steps: the offline executor works on image files; the live one will drive QEMU. */
public interface StepExecutor {
    /** Does the step; must be safe to call again after a crash in the middle of it. */
    void run(Step step) throws IOException;

    /**
     * Does a step no process has started before (a new plan's step, never one being finished
     * after a crash): an executor may skip its checks of whether an earlier process did it.
     */
    default void runFirst(Step step) throws IOException {
        run(step);
    }

    /** Undoes a reversible step, whether it finished, half ran or never ran. */
    void undo(Step step) throws IOException;
}
