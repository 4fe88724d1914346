package org.vmsnap.manager;

import java.io.IOException;
import java.time.Duration;

/**
 * Follows a domain's save through QEMU's figures ({@link DomainService#jobInfo}, read from the
 * status monitor without the domain lock the save holds) and hands them to a {@link JobProgress}
 * as bytes sent of the stream's total, every {@code every}, until {@link #done} or {@link #close}.
 * Used by {@code save --verbose}, {@code managedsave --verbose} and serve's save job.
 */
public final class SaveWatch implements AutoCloseable {
    private final DomainService domains;
    private final String domain;
    private final String label;
    private final Duration every;
    private final JobProgress progress;
    private final Thread watcher;
    /** The stream's total as QEMU last gave it; 0 before any figure. */
    private volatile long total;

    private SaveWatch(DomainService domains, String domain, String label, Duration every, JobProgress progress) {
        this.domains = domains;
        this.domain = domain;
        this.label = label;
        this.every = every;
        this.progress = progress;
        this.watcher = Thread.ofVirtual().name("vmsnap-save-watch").start(this::watch);
    }

    /** Starts following the save of {@code domain}; {@code label} is what runs, in virsh's words ("Save"). */
    public static SaveWatch start(DomainService domains, String domain, String label, Duration every,
                                  JobProgress progress) {
        return new SaveWatch(domains, domain, label, every, progress);
    }

    private void watch() {
        while (!Thread.currentThread().isInterrupted()) {
            try {
                Thread.sleep(every);
                DomainService.JobInfo j = domains.jobInfo(domain);
                // Not once stopped: a figure read before the end must not follow the last one.
                if (j != null && j.totalBytes() > 0 && !Thread.currentThread().isInterrupted()) {
                    total = j.totalBytes();
                    progress.update(label, j.totalBytes() - j.remainingBytes(), j.totalBytes());
                }
            } catch (InterruptedException e) {
                return;
            } catch (IOException | RuntimeException e) {
                // no figures now: try again
            }
        }
    }

    /**
     * The save succeeded: stops following it and reports it whole (QEMU's last figures may
     * predate the stream's end), unless no figure came while it ran (a save faster than
     * {@code every}).
     */
    public void done() {
        close();
        long t = total;
        if (t > 0) {
            progress.update(label, t, t);
        }
    }

    /** Stops following the save; no figure is reported after this returns. */
    @Override
    public void close() {
        watcher.interrupt();
        try {
            watcher.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
