/**
 * Plans: a {@link org.vmsnap.manager.plan.Step} is data (the journal records it), run by a
 * {@link org.vmsnap.manager.plan.StepExecutor} (offline on files now; the live executor
 * later) under a {@link org.vmsnap.manager.plan.PlanRunner}, which rolls a plan back while
 * only reversible steps have started and forward once an irreversible one has.
 * {@link org.vmsnap.manager.plan.CrashPoint} is the crash-test hook.
 */
package org.vmsnap.manager.plan;
