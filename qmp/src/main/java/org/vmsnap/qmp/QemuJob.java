package org.vmsnap.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;

/**
 * Runs one QEMU job ({@code snapshot-save}, {@code snapshot-load}, {@code block-commit},
 * ...) to its end: starts it, follows its {@code JOB_STATUS_CHANGE} events, completes it
 * when it is {@code ready} (an active commit waits there), finalizes it when it waits in
 * {@code pending} (started with {@code auto-finalize: false}), and once it has {@code concluded} reads its error from
 * {@code query-jobs} and dismisses it, so no concluded job is left in QEMU's list.
 *
 * <p>The event stream is opened before the command is sent: a fast job may conclude
 * before the command's reply arrives, and its events must not be missed.
 */
public final class QemuJob {

    /** How long each housekeeping command (query, dismiss, complete) may take. */
    private static final Duration STEP_TIMEOUT = Duration.ofSeconds(30);

    private QemuJob() {
    }

    /**
     * Runs the job and waits at most {@code timeout} for it to end.
     *
     * @param arguments the command's arguments; must hold the {@code job-id}
     * @throws QmpJobException          when the job concluded with an error
     * @throws QmpCommandException      when QEMU refused to start it
     * @throws QmpTimeoutException      when it did not end in time (it is then cancelled)
     * @throws QmpDisconnectedException when QEMU went away during the job
     */
    public static void run(QmpClient qmp, String command, ObjectNode arguments, Duration timeout) throws QmpException {
        run(qmp, command, arguments, timeout, null);
    }

    /** Reports a running job's progress: bytes done and bytes in all (QEMU's units), about twice a second. */
    @FunctionalInterface
    public interface ProgressListener {
        void update(long done, long total);
    }

    /** How often a job's progress is asked for while no event comes. */
    private static final Duration PROGRESS_POLL = Duration.ofMillis(500);

    /** {@link #run}, reporting progress to {@code progress} (null: none). */
    public static void run(QmpClient qmp, String command, ObjectNode arguments, Duration timeout,
                           ProgressListener progress) throws QmpException {
        Objects.requireNonNull(arguments, "arguments");
        String jobId = arguments.path("job-id").asText("");
        if (jobId.isEmpty()) {
            throw new IllegalArgumentException(command + ": the arguments must name a job-id");
        }
        // Only a job started with auto-finalize off waits in "pending" for job-finalize;
        // others pass through it, and a job-finalize then would be refused.
        boolean finalizeByHand = !arguments.path("auto-finalize").asBoolean(true);
        Instant deadline = Instant.now().plus(timeout);
        try (QmpClient.EventStream events = qmp.events(e -> isAbout(e, jobId))) {
            qmp.execute(command, arguments, STEP_TIMEOUT);
            await(qmp, events, command, jobId, "created", false, finalizeByHand, deadline, timeout, progress);
        }
    }

    /**
     * Follows a job that was started earlier (by a vmsnap process that died meanwhile) to its end
     * as {@link #run} does: completes it when ready, dismisses it when concluded, and reports its
     * error. Returns false when QEMU does not list the job (it ended and was dismissed).
     */
    public static boolean follow(QmpClient qmp, String jobId, Duration timeout) throws QmpException {
        return follow(qmp, jobId, timeout, null);
    }

    /** {@link #follow}, reporting progress to {@code progress} (null: none). */
    public static boolean follow(QmpClient qmp, String jobId, Duration timeout, ProgressListener progress)
            throws QmpException {
        Instant deadline = Instant.now().plus(timeout);
        try (QmpClient.EventStream events = qmp.events(e -> isAbout(e, jobId))) {
            JsonNode job = listed(qmp, jobId);
            if (job == null) {
                return false;
            }
            String status = job.path("status").asText();
            boolean completed = status.equals("ready") && complete(qmp, jobId);
            await(qmp, events, job.path("type").asText("job"), jobId, status, completed, false, deadline, timeout,
                    progress);
            return true;
        }
    }

    private static void await(QmpClient qmp, QmpClient.EventStream events, String command, String jobId,
                              String initialStatus, boolean completedBefore, boolean finalizeByHand,
                              Instant deadline, Duration timeout, ProgressListener progress) throws QmpException {
        String blockJobError = null;
        String status = initialStatus;
        boolean completed = completedBefore;
        while (!status.equals("concluded") && !status.equals("null")) {
            QmpEvent event;
            try {
                Duration left = remaining(deadline);
                event = events.next(progress == null || left.compareTo(PROGRESS_POLL) < 0 ? left : PROGRESS_POLL);
            } catch (QmpTimeoutException e) {
                if (Instant.now().isBefore(deadline)) {
                    JsonNode job = listed(qmp, jobId);
                    if (job != null && progress != null) {
                        progress.update(job.path("current-progress").asLong(), job.path("total-progress").asLong());
                    }
                    continue; // only a progress poll
                }
                cancelQuietly(qmp, jobId);
                throw new QmpTimeoutException(command + " job '" + jobId + "' did not end within " + timeout
                        + " (last status: " + status + "); it was cancelled");
            }
            switch (event.name()) {
                case "JOB_STATUS_CHANGE" -> {
                    status = event.text("status");
                    // A drain pauses a ready job (ready, standby, ready again): complete it once only,
                    // a second job-complete may meet it concluded and be refused.
                    if (status.equals("ready") && !completed) {
                        completed = complete(qmp, jobId);
                    } else if (status.equals("pending") && finalizeByHand) {
                        qmp.execute("job-finalize", QmpClient.arguments().put("id", jobId), STEP_TIMEOUT);
                    }
                }
                // Block jobs that dismiss themselves report their error only here.
                case "BLOCK_JOB_COMPLETED", "BLOCK_JOB_ERROR" -> {
                    if (event.data().hasNonNull("error")) {
                        blockJobError = event.text("error");
                    }
                }
                default -> {
                }
            }
        }
        String error = blockJobError;
        if (status.equals("concluded")) {
            // A job that dismisses itself (a block job's default) is gone by now.
            JsonNode job = listed(qmp, jobId);
            if (job != null) {
                error = job.hasNonNull("error") ? job.get("error").asText() : error;
                qmp.execute("job-dismiss", QmpClient.arguments().put("id", jobId), STEP_TIMEOUT);
            }
        }
        if (error != null) {
            throw new QmpJobException(command, jobId, error);
        }
    }

    /**
     * Sends job-complete to a job reported ready. Returns false when QEMU refused it because the
     * job has moved on meanwhile (paused by a drain, or ended): its next ready event completes it,
     * or its end is reported. A refusal while the job is still ready is an error.
     */
    private static boolean complete(QmpClient qmp, String jobId) throws QmpException {
        try {
            qmp.execute("job-complete", QmpClient.arguments().put("id", jobId), STEP_TIMEOUT);
            return true;
        } catch (QmpCommandException refused) {
            JsonNode job = listed(qmp, jobId);
            if (job != null && job.path("status").asText().equals("ready")) {
                throw refused;
            }
            return false;
        }
    }

    private static boolean isAbout(QmpEvent event, String jobId) {
        return switch (event.name()) {
            case "JOB_STATUS_CHANGE" -> event.text("id").equals(jobId);
            case "BLOCK_JOB_COMPLETED", "BLOCK_JOB_ERROR" -> event.text("device").equals(jobId);
            default -> false;
        };
    }

    /** The job's entry in {@code query-jobs}, or null when QEMU no longer lists it. */
    private static JsonNode listed(QmpClient qmp, String jobId) throws QmpException {
        for (JsonNode job : qmp.execute("query-jobs", null, STEP_TIMEOUT)) {
            if (job.path("id").asText().equals(jobId)) {
                return job;
            }
        }
        return null;
    }

    private static void cancelQuietly(QmpClient qmp, String jobId) {
        try {
            qmp.execute("job-cancel", QmpClient.arguments().put("id", jobId), STEP_TIMEOUT);
        } catch (QmpException ignored) {
            // the timeout is what the caller needs to hear about
        }
    }

    private static Duration remaining(Instant deadline) {
        Duration left = Duration.between(Instant.now(), deadline);
        return left.isNegative() ? Duration.ZERO : left;
    }
}
