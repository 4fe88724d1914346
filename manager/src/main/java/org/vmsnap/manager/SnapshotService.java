package org.vmsnap.manager;

import java.io.IOException;
import java.util.List;

import org.vmsnap.manager.xml.Domain;
import org.vmsnap.manager.xml.SnapshotDef;

/** Snapshot operations of one domain (virsh snapshot-*), for a shut-off domain. */
public final class SnapshotService {

    /** The domain's current definition. */
    public Domain domain() throws IOException {
        throw new UnsupportedOperationException("lead is writing this");
    }

    /** All snapshots with metadata, and the current one. */
    public SnapshotTree tree() throws IOException {
        throw new UnsupportedOperationException("lead is writing this");
    }

    /**
     * snapshot-create / snapshot-create-as. {@code request} comes from the user's XML or from
     * create-as arguments (name may be null: the creation time in seconds; disks may be empty or
     * partial: the domain's defaults fill in). Returns the snapshot as recorded.
     */
    public SnapshotDef create(SnapshotDef request, CreateFlags flags) throws IOException {
        throw new UnsupportedOperationException("lead is writing this");
    }

    /** snapshot-current SNAPSHOT. */
    public void setCurrent(String name) throws IOException {
        throw new UnsupportedOperationException("lead is writing this");
    }

    /** snapshot-edit: replace the editable parts (name, description) of a snapshot's metadata. */
    public SnapshotDef edit(String name, SnapshotDef edited) throws IOException {
        throw new UnsupportedOperationException("lead is writing this");
    }

    /** snapshot-revert. */
    public void revert(String name, boolean force) throws IOException {
        throw new UnsupportedOperationException("lead is writing this");
    }

    /**
     * snapshot-delete.
     *
     * @return the names whose snapshots were deleted
     */
    public List<String> delete(String name, DeleteScope scope, boolean metadataOnly) throws IOException {
        throw new UnsupportedOperationException("lead is writing this");
    }

    /** vmsnap recover: rebuilds snapshot metadata from the images. */
    public RecoverReport recover() throws IOException {
        throw new UnsupportedOperationException("lead is writing this");
    }
}
