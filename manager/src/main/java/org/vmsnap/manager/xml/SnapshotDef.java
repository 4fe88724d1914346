package org.vmsnap.manager.xml;

import java.nio.file.Path;
import java.util.List;

/**
 * A snapshot as libvirt's {@code domainsnapshot} XML describes it.
 *
 * @param name            the snapshot's name (null in a request: the manager picks the creation time)
 * @param description     free text, or null
 * @param state           the domain state at the snapshot: shutoff, running, paused, disk-snapshot;
 *                        null in a request
 * @param creationTimeSec seconds since the epoch; 0 in a request
 * @param parent          the parent snapshot's name, or null for a root
 * @param memoryMode      {@code <memory snapshot=...>}, null when absent
 * @param memoryFile      the memory file of an external memory snapshot, else null
 * @param disks           per-disk modes, in the domain's disk order once created
 * @param domain          the domain definition at the snapshot (the disks' images then), null in a request
 * @param quiesced        for a checkpoint (disks and memory): whether vmsnap froze the guest's filesystems for it
 *                        (--quiesce), so that its memory holds them frozen; null when not recorded (metadata
 *                        written before vmsnap recorded it, libvirt's, a request, a disk-only snapshot). vmsnap's
 *                        own record, kept in the stored file's {@code <cookie>} (see {@link SnapshotXml#formatStored})
 */
public record SnapshotDef(String name, String description, String state, long creationTimeSec, String parent,
        SnapshotMode memoryMode, Path memoryFile, List<SnapshotDisk> disks, Domain domain, Boolean quiesced) {

    public SnapshotDef {
        disks = List.copyOf(disks);
    }

    /** Without the quiesce record (requests, libvirt's snapshots, disk-only snapshots). */
    public SnapshotDef(String name, String description, String state, long creationTimeSec, String parent,
            SnapshotMode memoryMode, Path memoryFile, List<SnapshotDisk> disks, Domain domain) {
        this(name, description, state, creationTimeSec, parent, memoryMode, memoryFile, disks, domain, null);
    }

    /**
     * Whether the guest may come back from this checkpoint with frozen filesystems: unless the
     * metadata records that vmsnap did not freeze it, a revert asks the guest agent.
     */
    public boolean mayHoldFrozenGuest() {
        return !Boolean.FALSE.equals(quiesced);
    }

    public SnapshotDef withQuiesced(Boolean newQuiesced) {
        return new SnapshotDef(name, description, state, creationTimeSec, parent, memoryMode, memoryFile, disks,
                domain, newQuiesced);
    }

    public SnapshotDef withName(String newName) {
        return new SnapshotDef(newName, description, state, creationTimeSec, parent, memoryMode, memoryFile, disks,
                domain, quiesced);
    }

    public SnapshotDef withParent(String newParent) {
        return new SnapshotDef(name, description, state, creationTimeSec, newParent, memoryMode, memoryFile, disks,
                domain, quiesced);
    }

    public SnapshotDef withDescription(String newDescription) {
        return new SnapshotDef(name, newDescription, state, creationTimeSec, parent, memoryMode, memoryFile, disks,
                domain, quiesced);
    }

    public SnapshotDef withDisks(List<SnapshotDisk> newDisks) {
        return new SnapshotDef(name, description, state, creationTimeSec, parent, memoryMode, memoryFile, newDisks,
                domain, quiesced);
    }

    public SnapshotDef withDomain(Domain newDomain) {
        return new SnapshotDef(name, description, state, creationTimeSec, parent, memoryMode, memoryFile, disks,
                newDomain, quiesced);
    }

    public SnapshotDef withCreation(long timeSec, String newState) {
        return new SnapshotDef(name, description, newState, timeSec, parent, memoryMode, memoryFile, disks, domain,
                quiesced);
    }

    /** The disk entry for a domain disk target, or null. */
    public SnapshotDisk disk(String target) {
        for (SnapshotDisk d : disks) {
            if (d.name().equals(target)) {
                return d;
            }
        }
        return null;
    }

    /**
     * virsh's "Location" of the snapshot: external if memory or any disk is external, internal if
     * any is internal, else none.
     */
    public String location() {
        boolean internal = memoryMode == SnapshotMode.INTERNAL;
        boolean external = memoryMode == SnapshotMode.EXTERNAL;
        for (SnapshotDisk d : disks) {
            internal |= d.mode() == SnapshotMode.INTERNAL;
            external |= d.mode() == SnapshotMode.EXTERNAL;
        }
        return external ? "external" : internal ? "internal" : "none";
    }
}
