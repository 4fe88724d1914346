package org.vmsnap.manager.plan;

import java.util.ArrayList;
import java.util.List;

/** What one command will do, step by step, before any of it is done. */
public final class Plan {
    private final String what;
    private final List<Step> steps = new ArrayList<>();

    public Plan(String what) {
        this.what = what;
    }

    public Plan add(Step step) {
        steps.add(step);
        return this;
    }

    public String what() {
        return what;
    }

    public List<Step> steps() {
        return List.copyOf(steps);
    }

    /** Replaces the steps (a planner turning an offline plan into a live one). */
    public void replaceSteps(List<Step> newSteps) {
        steps.clear();
        steps.addAll(newSteps);
    }

    public boolean isEmpty() {
        return steps.isEmpty();
    }
}
