package org.vmsnap.cli.virsh;

import org.vmsnap.manager.CreateFlags;

import picocli.CommandLine.Option;

/** The flags snapshot-create and snapshot-create-as share, and the {@link CreateFlags} they make. */
final class CreateFlagOptions {

    @Option(names = "--no-metadata", description = "Take the snapshot but keep no metadata.")
    boolean noMetadata;

    @Option(names = "--disk-only", description = "External snapshots of every disk.")
    boolean diskOnly;

    @Option(names = "--reuse-external", description = "Reuse existing external files.")
    boolean reuseExternal;

    @Option(names = "--atomic", description = "Accepted: every snapshot is atomic (one QEMU transaction).")
    boolean atomic;

    @Option(names = "--quiesce", description = "The guest agent freezes the guest's filesystems around the snapshot"
            + " (a running domain with a guest agent).")
    boolean quiesce;

    @Option(names = "--live", description = "A checkpoint's memory is copied while the guest runs; it pauses"
            + " only for the last pass and the disks' snapshots (an internal checkpoint's memory then goes to a file"
            + " beside its first disk).")
    boolean live;

    /** These flags with snapshot-create's {@code --redefine} and {@code --current}. */
    CreateFlags flags(boolean redefine, boolean current) {
        return new CreateFlags(redefine, current, noMetadata, diskOnly, reuseExternal, quiesce, live);
    }
}
