package org.vmsnap.cli.virsh;

import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Option;

/** virsh's --running | --paused of save, restore, managedsave and save-image-define. */
final class SaveStateOptions {
    @ArgGroup(exclusive = true, multiplicity = "0..1")
    Choice choice;

    static final class Choice {
        @Option(names = "--running", description = "The restored guest runs.")
        boolean running;

        @Option(names = "--paused", description = "The restored guest stays paused.")
        boolean paused;
    }

    /** true, false, or null: the state the guest had when saved. */
    Boolean running() {
        return choice == null ? null : choice.running ? Boolean.TRUE : choice.paused ? Boolean.FALSE : null;
    }
}
