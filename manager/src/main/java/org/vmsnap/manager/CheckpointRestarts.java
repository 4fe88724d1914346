package org.vmsnap.manager;

import java.io.IOException;

import org.vmsnap.manager.live.LiveExecutor;
import org.vmsnap.manager.live.LiveQemu;

/** The lifecycle as the live executor needs it for a checkpoint revert that starts QEMU. */
final class CheckpointRestarts implements LiveExecutor.Restarts {
    private final Lifecycle lifecycle;

    CheckpointRestarts(Lifecycle lifecycle) {
        this.lifecycle = lifecycle;
    }

    @Override
    public LiveQemu current() throws IOException {
        return lifecycle.probe().orElse(null);
    }

    @Override
    public void startPaused() throws IOException {
        lifecycle.start(true, false, false);
    }

    @Override
    public void recordRunState(LiveQemu q, boolean running, boolean mayBeFrozen) throws IOException {
        lifecycle.recordRunState(q, running, mayBeFrozen);
    }

    private String failure;

    @Override
    public void startFromMemory(java.nio.file.Path file) throws IOException {
        SaveImage image = SaveImage.open(file);
        lifecycle.startIncoming(lifecycle.storedDomain(), true, image.source(), file.toString());
    }

    @Override
    public void stop(long pid) throws IOException {
        try (LiveQemu q = lifecycle.probe().orElse(null)) {
            if (q == null || q.pid() != pid) {
                return; // stopped already: the step run again after a crash
            }
        }
        lifecycle.destroy(false);
    }

    @Override
    public void boot(boolean paused) throws IOException {
        lifecycle.start(paused, false, false); // the plan settled the pending deletes and the managed save
    }

    @Override
    public void startFailed(String why) {
        failure = why;
    }

    /** Why QEMU could not load a checkpoint's memory in this plan, or null. */
    String failure() {
        return failure;
    }
}
