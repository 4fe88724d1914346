package org.vmsnap.cli.img;

import java.io.PrintWriter;

import org.vmsnap.cli.format.CFormat;
import org.vmsnap.qcow2.Progress;

/**
 * qemu-img's -p progress (util/qemu-progress.c): "    (42.00/100%)" and a carriage return,
 * printed at 0 and 100 and whenever it moved by more than the command's step; a newline ends
 * it. Like qemu-img it prints whether or not stdout is a terminal, so a pipe or a log gets the
 * same bytes.
 */
final class ProgressBar implements Progress {
    /** qemu-img's min_skip of convert and commit, in percent. */
    static final double STEP_PERCENT = 1.0;
    /** qemu-img's min_skip of compare and rebase. */
    static final double WIDE_STEP_PERCENT = 2.0;

    private final PrintWriter out;
    private final double stepPercent;
    private double lastPrinted;

    private ProgressBar(PrintWriter out, double stepPercent) {
        this.out = out;
        this.stepPercent = stepPercent;
    }

    /** A bar on {@code out} when asked for, else nothing; it starts at 0% as qemu-img's does. */
    static Progress of(boolean requested, PrintWriter out) {
        return of(requested, STEP_PERCENT, out);
    }

    static Progress of(boolean requested, double stepPercent, PrintWriter out) {
        if (!requested) {
            return Progress.NONE;
        }
        ProgressBar bar = new ProgressBar(out, stepPercent);
        bar.draw(0.0);
        return bar;
    }

    @Override
    public void update(long doneBytes, long totalBytes) {
        double percent = totalBytes <= 0 ? 100.0 : Math.min(100.0, doneBytes * 100.0 / totalBytes);
        if (percent > lastPrinted + stepPercent || percent < lastPrinted - stepPercent
                || percent == 100.0 || percent == 0.0) {
            draw(percent);
        }
    }

    private void draw(double percent) {
        lastPrinted = percent;
        out.print("    (" + CFormat.fixed(percent, 2) + "/100%)\r");
        out.flush();
    }

    /** Draws 100% once more and ends the line, as qemu-img does when the work is done. */
    static void finish(Progress progress) {
        if (progress instanceof ProgressBar bar) {
            bar.draw(100.0);
            end(bar);
        }
    }

    /** Only the newline (qemu_progress_end): compare prints its verdict before it. */
    static void end(Progress progress) {
        if (progress instanceof ProgressBar bar) {
            bar.out.print("\n");
            bar.out.flush();
        }
    }
}
