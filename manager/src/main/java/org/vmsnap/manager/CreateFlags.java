package org.vmsnap.manager;

/**
 * virsh snapshot-create's flags.
 *
 * @param redefine      the XML describes an existing snapshot: record its metadata, touch no image
 * @param current       with redefine: make it the current snapshot
 * @param noMetadata    make the snapshot's data but keep no metadata (recover or redefine bring it back)
 * @param diskOnly      disks only, no memory (the only kind for a shut-off domain: state disk-snapshot)
 * @param reuseExternal external overlay files may exist already and are reused (reformatted)
 * @param quiesce       a running domain's guest agent freezes its filesystems around the snapshot
 * @param live          an external checkpoint's memory is copied while the guest runs (pre-copy);
 *                      the guest pauses only for the last pass and the disks' transaction
 */
public record CreateFlags(boolean redefine, boolean current, boolean noMetadata, boolean diskOnly,
        boolean reuseExternal, boolean quiesce, boolean live) {

    public CreateFlags(boolean redefine, boolean current, boolean noMetadata, boolean diskOnly, boolean reuseExternal,
            boolean quiesce) {
        this(redefine, current, noMetadata, diskOnly, reuseExternal, quiesce, false);
    }

    public CreateFlags(boolean redefine, boolean current, boolean noMetadata, boolean diskOnly, boolean reuseExternal) {
        this(redefine, current, noMetadata, diskOnly, reuseExternal, false);
    }

    public static CreateFlags none() {
        return new CreateFlags(false, false, false, false, false, false, false);
    }
}
