package org.vmsnap.cli.virsh;

import java.io.PrintWriter;

import org.vmsnap.manager.JobProgress;

/**
 * virsh's block job progress ({@code blockcommit --verbose}): "\rBlock commit: [ 45 %]" while the
 * job runs, a newline when it ends. With --verbose on stdout, as virsh prints it; without, on a
 * terminal only, on stderr, so pipes and scripts see nothing extra.
 */
final class JobBar implements JobProgress {
    private final PrintWriter to;
    private int last = -1;

    private JobBar(PrintWriter to) {
        this.to = to;
    }

    static JobProgress of(boolean verbose, PrintWriter out, PrintWriter err) {
        if (verbose) {
            return new JobBar(out);
        }
        return System.console() != null ? new JobBar(err) : JobProgress.NONE;
    }

    @Override
    public void update(String label, long done, long total) {
        int percent = total <= 0 ? 0 : (int) Math.min(100, done * 100 / total);
        if (percent != last) {
            last = percent;
            to.print(String.format("\r%s: [%3d %%]", label, percent));
            to.flush();
        }
    }

    @Override
    public void finish(String label) {
        if (last >= 0) {
            to.print(String.format("\r%s: [100 %%]%n", label));
            to.flush();
            last = -1;
        }
    }
}
