package org.vmsnap.cli.virsh;

import java.io.PrintWriter;
import java.time.Duration;

import org.vmsnap.manager.DomainService;
import org.vmsnap.manager.JobProgress;
import org.vmsnap.manager.SaveWatch;

/**
 * virsh's {@code --verbose} for a save ({@code save}, {@code managedsave}): "\rLABEL: [ NN %]" on
 * stderr while QEMU streams the state ({@link SaveWatch}, twice a second; at most 99 % until the
 * save is done, as QEMU's figures reach the end before the device state is sent), and
 * "[100 %]" once it is done. Nothing when not asked for.
 */
final class SaveProgress implements AutoCloseable, JobProgress {
    private final String label;
    private final PrintWriter err;
    private final SaveWatch watch;
    private boolean shown;
    private boolean finished;

    private SaveProgress(DomainService domains, String domain, String label, PrintWriter err, boolean show) {
        this.label = label;
        this.err = err;
        this.watch = show ? SaveWatch.start(domains, domain, label, Duration.ofMillis(500), this) : null;
    }

    /** Starts showing the save of {@code domain} when {@code show}; virsh's label, e.g. "Save". */
    static SaveProgress start(DomainService domains, String domain, String label, PrintWriter err, boolean show) {
        return new SaveProgress(domains, domain, label, err, show);
    }

    @Override
    public void update(String what, long done, long total) {
        print(String.format("\r%s: [%3d %%]", what, Math.min(99, 100 - (total - done) * 100 / total)));
    }

    @Override
    public void finish(String what) {
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
        if (watch != null) {
            watch.close();
            print("\r" + label + ": [100 %]");
        }
        finished = true;
    }

    /** Stops following the save; after a failed one, ends its line so that the error gets one of its own. */
    @Override
    public void close() {
        if (watch != null) {
            watch.close();
        }
        synchronized (err) {
            if (shown && !finished) {
                err.print('\n');
                err.flush();
            }
        }
    }
}
