package org.vmsnap.cli.img;

import java.io.PrintWriter;

import org.vmsnap.cli.format.CFormat;
import org.vmsnap.qcow2.Progress;

/**
 * qemu-img's -p progress: "    (42.00/100%)" redrawn with a carriage return whenever it
 * moved by at least one percent, and a newline at the end.
 */
final class ProgressBar implements Progress {
    private static final double MIN_STEP_PERCENT = 1.0;

    private final PrintWriter out;
    private double lastPrinted = -1;

    ProgressBar(PrintWriter out) {
        this.out = out;
    }

    /** A bar on {@code out} when asked for and drawn on a terminal, else nothing. */
    static Progress of(boolean requested, boolean terminal, PrintWriter out) {
        return requested && terminal ? new ProgressBar(out) : Progress.NONE;
    }

    @Override
    public void update(long doneBytes, long totalBytes) {
        double percent = totalBytes <= 0 ? 100.0 : Math.min(100.0, doneBytes * 100.0 / totalBytes);
        if (lastPrinted < 0 || percent - lastPrinted >= MIN_STEP_PERCENT || (percent == 100.0 && lastPrinted < 100.0)) {
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
            bar.out.print("\n");
            bar.out.flush();
        }
    }
}
