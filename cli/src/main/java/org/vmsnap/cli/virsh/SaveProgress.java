package org.vmsnap.cli.virsh;

import java.io.IOException;
import java.io.PrintWriter;

import org.vmsnap.manager.DomainService;

/**
 * virsh's {@code --verbose} for a save ({@code save}, {@code managedsave}): "\rLABEL: [ NN %]" on
 * stderr while QEMU streams the state (its figures from the status monitor, twice a second), and
 * "[100 %]" once the save is done. Nothing when not asked for.
 */
final class SaveProgress implements AutoCloseable {
    private final DomainService domains;
    private final String domain;
    private final String label;
    private final PrintWriter err;
    private final Thread watcher;
    private boolean shown;
    private boolean finished;

    private SaveProgress(DomainService domains, String domain, String label, PrintWriter err, boolean show) {
        this.domains = domains;
        this.domain = domain;
        this.label = label;
        this.err = err;
        this.watcher = show ? Thread.ofPlatform().daemon().name("vmsnap-save-progress").start(this::watch) : null;
    }

    /** Starts showing the save of {@code domain} when {@code show}; virsh's label, e.g. "Save". */
    static SaveProgress start(DomainService domains, String domain, String label, PrintWriter err, boolean show) {
        return new SaveProgress(domains, domain, label, err, show);
    }

    private void watch() {
        while (!Thread.currentThread().isInterrupted()) {
            try {
                Thread.sleep(500);
                DomainService.JobInfo j = domains.jobInfo(domain);
                if (j != null && j.totalBytes() > 0) {
                    long pct = Math.min(99, 100 - j.remainingBytes() * 100 / j.totalBytes());
                    print(String.format("\r%s: [%3d %%]", label, pct));
                }
            } catch (InterruptedException e) {
                return;
            } catch (IOException | RuntimeException e) {
                // no figures now: try again
            }
        }
    }

    private void print(String s) {
        synchronized (err) {
            err.print(s);
            err.flush();
            shown = true;
        }
    }

    /** The save succeeded: the line ends at 100 %. */
    void done() {
        stop();
        if (watcher != null) {
            print("\r" + label + ": [100 %]");
        }
        finished = true;
    }

    private void stop() {
        if (watcher == null) {
            return;
        }
        watcher.interrupt();
        try {
            watcher.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops the watcher; after a failed save, ends its line so that the error gets one of its own. */
    @Override
    public void close() {
        stop();
        synchronized (err) {
            if (shown && !finished) {
                err.print('\n');
                err.flush();
            }
        }
    }
}
