package org.vmsnap.cli.virsh;

import org.vmsnap.cli.CliException;

import picocli.CommandLine.Option;

/** virsh's --running | --paused of save, restore, managedsave and save-image-define (a mixin). */
final class SaveStateOptions {
    @Option(names = "--running", description = "The restored guest runs.")
    boolean running;

    @Option(names = "--paused", description = "The restored guest stays paused.")
    boolean paused;

    /** true, false, or null: the state the guest had when saved; both flags are virsh's error. */
    Boolean running() {
        if (running && paused) {
            throw new CliException("Options --running and --paused are mutually exclusive");
        }
        return running ? Boolean.TRUE : paused ? Boolean.FALSE : null;
    }
}
