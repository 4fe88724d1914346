package org.vmsnap.manager.plan;

import java.io.IOException;

/**
 * A step failed before it changed anything (the image could not be opened, a name was taken):
 * its undo is skipped, only the steps before it are undone.
 */
public final class StepNotStartedException extends IOException {
    private static final long serialVersionUID = 1L;

    public StepNotStartedException(IOException cause) {
        super(cause.getMessage(), cause);
    }
}
