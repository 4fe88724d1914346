package org.vmsnap.manager.plan;

/**
 * The crash-test hook: stops an operation right before step N (1-based) of the next plan that
 * runs (or that is being finished after an earlier crash), with no undo and no cleanup, as a
 * kill -9 would. Armed from a test
 * ({@link #arm(int)}: a {@link SimulatedCrash} is thrown, so an in-process test survives it) or
 * from outside ({@code VMSNAP_CRASH_AT_STEP=N} or {@code -Dvmsnap.crashAtStep=N}: the process
 * halts with exit code 86).
 */
public final class CrashPoint {
    /** The exit code of a process halted by the hook. */
    public static final int HALT_EXIT_CODE = 86;

    private static volatile int armedStep;

    private CrashPoint() {
    }

    /** Arms the in-process hook for the next plan; 0 disarms. */
    public static void arm(int step) {
        armedStep = step;
    }

    private static volatile int actionStep;
    private static volatile Runnable action;

    /**
     * Runs {@code r} once, right before step {@code step} of the next plan (a test pausing the
     * guest between the agent's ping and the freeze, say); null disarms.
     */
    public static void armAction(int step, Runnable r) {
        actionStep = step;
        action = r;
    }

    /** Called by the plan runner before running step {@code step} (1-based). */
    static void before(int step) {
        Runnable r = action;
        if (r != null && actionStep == step) {
            action = null;
            r.run();
        }
        if (armedStep > 0 && armedStep == step) {
            armedStep = 0;
            throw new SimulatedCrash("simulated crash before step " + step);
        }
        int external = externalStep();
        if (external > 0 && external == step) {
            Runtime.getRuntime().halt(HALT_EXIT_CODE);
        }
    }

    /** Plans after the first one in a process are not crashed by the external hook. */
    static void planFinished() {
        armedStep = 0;
        externalDone = true;
    }

    private static volatile boolean externalDone;

    private static int externalStep() {
        if (externalDone) {
            return 0;
        }
        String v = System.getProperty("vmsnap.crashAtStep");
        if (v == null) {
            v = System.getenv("VMSNAP_CRASH_AT_STEP");
        }
        try {
            return v == null ? 0 : Integer.parseInt(v.strip());
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /** Thrown by an armed hook; an Error so that no undo code catches it. */
    public static final class SimulatedCrash extends Error {
        private static final long serialVersionUID = 1L;

        SimulatedCrash(String message) {
            super(message);
        }
    }
}
