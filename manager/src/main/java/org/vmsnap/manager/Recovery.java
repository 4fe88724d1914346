package org.vmsnap.manager;

import java.io.IOException;

/** Rebuilds snapshot metadata from the images (see plan). */
final class Recovery {
    private Recovery() {
    }

    static RecoverReport plan(PlanContext ctx, long nowSec) throws IOException {
        throw new ManagerException("recover is not implemented yet");
    }
}
