package org.vmsnap.server;

import java.io.IOException;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import org.vmsnap.manager.JobProgress;

/**
 * The jobs of this server: each action runs on its own virtual thread; the manager's domain lock
 * orders actions on one domain (as it orders the CLI's). The last {@link #KEPT} jobs are kept
 * for GET /api/jobs/{id}; older ended ones are forgotten.
 */
final class Jobs implements AutoCloseable {
    /** Jobs remembered: enough for any page or script to read its result, bounded memory. */
    static final int KEPT = 1000;
    private static final SecureRandom RANDOM = new SecureRandom();

    /** What a job does, through the manager; returns its result (JSON-able). */
    interface Action {
        Object run(JobProgress progress) throws IOException;
    }

    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    private final Map<String, Job> jobs = new LinkedHashMap<>();
    /** Run after each job ends (the domain events look at the states again). */
    private final Runnable afterEach;

    Jobs() {
        this(() -> { });
    }

    Jobs(Runnable afterEach) {
        this.afterEach = afterEach;
    }

    /** Starts {@code action} as a new job and returns it at once (queued or already running). */
    Job submit(String operation, String domain, String snapshot, Action action) {
        byte[] b = new byte[8];
        RANDOM.nextBytes(b);
        Job job = new Job(HexFormat.of().formatHex(b), operation, domain, snapshot);
        synchronized (jobs) {
            jobs.put(job.id, job);
            Iterator<Job> old = jobs.values().iterator();
            while (jobs.size() > KEPT && old.hasNext()) {
                if (old.next().ended()) {
                    old.remove();
                }
            }
        }
        executor.execute(() -> {
            job.running();
            try {
                job.succeeded(action.run(job));
            } catch (IOException | RuntimeException e) {
                // The manager's one-line message, as the CLI prints it; never a trace.
                String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
                job.failed(m.replace('\n', ' ').replace('\r', ' '));
            } finally {
                afterEach.run();
            }
        });
        return job;
    }

    /** The job with this id, or null. */
    Job get(String id) {
        synchronized (jobs) {
            return jobs.get(id);
        }
    }

    /** GET /api/jobs: the kept jobs, oldest first. */
    List<Map<String, Object>> all() {
        List<Job> kept;
        synchronized (jobs) {
            kept = List.copyOf(jobs.values());
        }
        return kept.stream().map(Job::json).toList();
    }

    /** Waits for the running actions to end (a half-done plan is the journal's business, not ours). */
    @Override
    public void close() {
        executor.close();
    }
}
