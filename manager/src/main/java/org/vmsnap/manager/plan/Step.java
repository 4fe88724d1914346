package org.vmsnap.manager.plan;

import java.nio.file.Path;
import java.util.List;

/**
 * One step of a plan, as data: the journal records it, so that a later process can finish or
 * undo it. Every step can be run again after a crash in the middle of it (it checks what is
 * already done); {@link #reversible()} steps also have an undo that can be run again.
 */
public sealed interface Step {

    /** The step has an undo; a plan whose reversible prefix failed is rolled back. */
    boolean reversible();

    /** One line for errors and logs. */
    String describe();

    /**
     * Its "done" mark waits for the next step's ({@link PlanRunner}): for steps that run while the
     * guest is paused, so that no journal sync lengthens the pause. Only a reversible step followed
     * by a reversible one may say so; recovery then treats the next step as begun and undoes both,
     * so their undos must be safe on a step that never ran.
     */
    default boolean markWithNext() {
        return false;
    }

    /** Replaces a metadata file ({@code content} null: removes it); undo writes {@code previous} back. */
    record PutFile(Path file, String content, String previous) implements Step {
        public boolean reversible() {
            return true;
        }

        public String describe() {
            return (content == null ? "remove " : "write ") + file;
        }
    }

    /** Takes an internal snapshot of an image; undo deletes it. */
    record CreateInternal(String disk, Path image, String snapshot) implements Step {
        public boolean reversible() {
            return true;
        }

        public String describe() {
            return "disk " + disk + ": internal snapshot " + snapshot + " in " + image;
        }
    }

    /**
     * Creates an empty qcow2 overlay (mode 0600) over {@code backing}; undo removes it unless
     * reused. The file is made under {@code partial} (a hidden name unique to the plan) and then
     * linked to its name, which must still be free: while the partial link exists it proves that
     * the file under {@code overlay} is the one this plan made (see {@link DropLink}).
     */
    record CreateOverlay(String disk, Path overlay, Path backing, String backingFormat, boolean reuse, Path partial)
            implements Step {
        public boolean reversible() {
            return true;
        }

        public String describe() {
            return "disk " + disk + ": overlay " + overlay + " over " + backing;
        }
    }

    /**
     * A new qcow2 overlay over {@code image} that reads as {@code image}@{@code snapshot} (only
     * what differs is written into it); undo removes it. Made under {@code partial} as
     * {@link CreateOverlay} is.
     */
    record SnapshotOverlay(String disk, Path image, String snapshot, Path target, Path partial) implements Step {
        public boolean reversible() {
            return true;
        }

        public String describe() {
            return "disk " + disk + ": overlay " + target + " over " + image + " reading as its snapshot " + snapshot;
        }
    }

    /** Renames an internal snapshot inside an image; undo renames it back. */
    record RenameInternal(String disk, Path image, String from, String to) implements Step {
        public boolean reversible() {
            return true;
        }

        public String describe() {
            return "disk " + disk + ": rename internal snapshot " + from + " of " + image + " to " + to;
        }
    }

    /** Makes an internal snapshot the image's active state (the old state is gone). */
    record ApplyInternal(String disk, Path image, String snapshot) implements Step {
        public boolean reversible() {
            return false;
        }

        public String describe() {
            return "disk " + disk + ": apply internal snapshot " + snapshot + " of " + image;
        }
    }

    record DeleteInternal(String disk, Path image, String snapshot) implements Step {
        public boolean reversible() {
            return false;
        }

        public String describe() {
            return "disk " + disk + ": delete internal snapshot " + snapshot + " of " + image;
        }
    }

    /** Writes {@code top}'s own data into its backing file {@code base}. */
    record Commit(String disk, Path top, Path base) implements Step {
        public boolean reversible() {
            return false;
        }

        public String describe() {
            return "disk " + disk + ": commit " + top + " into " + base;
        }
    }

    /** Changes {@code image}'s backing file; {@code safe} copies what differs first (a pull). */
    record Rebase(String disk, Path image, Path newBacking, String newBackingFormat, boolean safe)
            implements Step {
        public boolean reversible() {
            return false;
        }

        public String describe() {
            return "disk " + disk + ": rebase " + image + " onto " + (newBacking == null ? "nothing" : newBacking)
                    + (safe ? "" : " (header only)");
        }
    }

    /**
     * Removes an image file vmsnap made and no longer needs, under QEMU's write lock; then drops
     * it from the {@code owned} list (state folder, and the mirror's copy when there is one). A
     * file another process holds is kept (and stays owned, so a later command removes it once it
     * is free).
     */
    record RemoveFile(String disk, Path file, Path ownedList, Path mirrorList) implements Step {
        public boolean reversible() {
            return false;
        }

        public String describe() {
            return "disk " + disk + ": remove " + file;
        }
    }

    /**
     * Deletes an internal snapshot whose metadata went earlier, while QEMU held its image (see the
     * store's pending list), then drops it from that list (both files, state folder and mirror).
     */
    record DeletePending(String disk, Path image, String snapshot, Path pendingList, Path mirrorList) implements Step {
        public boolean reversible() {
            return false;
        }

        public String describe() {
            return "disk " + disk + ": delete internal snapshot " + snapshot + " of " + image + " (deleted while"
                    + " the domain ran)";
        }
    }

    /**
     * Removes the partial link of a file a step of this plan made, once the plan no longer
     * needs to prove that the file is its own (nothing can undo the file any more).
     */
    record DropLink(Path partial) implements Step {
        public boolean reversible() {
            return false;
        }

        public String describe() {
            return "remove the temporary link " + partial;
        }
    }

    // ---------------------------------------------------------------- live steps (a running QEMU)
    // Each names the QEMU it was planned for ({@code pid}): a QEMU that is gone (or another one)
    // when the step runs again after a crash makes the live executor do the step's offline
    // equivalent on the files, which no QEMU holds any more.

    /** Freezes the guest's filesystems through the agent, within a time limit; undo thaws. */
    record Freeze(long pid, Path agentSocket, long limitMillis) implements Step {
        public boolean reversible() {
            return true;
        }

        public String describe() {
            return "freeze the guest's filesystems";
        }
    }

    /** Thaws the guest's filesystems (if frozen). */
    record Thaw(long pid, Path agentSocket) implements Step {
        public boolean reversible() {
            return false;
        }

        public String describe() {
            return "thaw the guest's filesystems";
        }
    }

    /**
     * QEMU opens a new overlay file as a format node over a protocol node, with no backing node yet
     * ({@code blockdev-snapshot} attaches it); undo deletes the node unless a device uses it.
     */
    record BlockdevAdd(long pid, String disk, Path file, String formatNode, String storageNode) implements Step {
        public boolean reversible() {
            return true;
        }

        public String describe() {
            return "disk " + disk + ": QEMU opens " + file + " as node " + formatNode;
        }
    }

    /**
     * One QMP {@code transaction} over all disks: {@code actions} are
     * {@code external|DISK|NODE|OVERLAY_NODE} (blockdev-snapshot) and
     * {@code internal|DISK|NODE|NAME} (blockdev-snapshot-internal-sync). All or nothing.
     */
    record SnapshotTransaction(long pid, List<String> actions) implements Step {
        public boolean reversible() {
            return false;
        }

        public String describe() {
            return "QEMU snapshots " + actions.size() + (actions.size() == 1 ? " disk" : " disks") + " at one instant";
        }
    }

    /**
     * A {@code block-commit} job: {@code top}'s data into {@code base} (both in the disk's live
     * chain); {@code active} when top is the disk's active image (the job is completed by hand and
     * the disk then runs on base). Files name the images for the offline fallback.
     */
    record BlockCommit(long pid, String disk, String jobId, String topNode, String baseNode, boolean active,
                       Path top, Path base, String baseFormat, Path above) implements Step {
        public boolean reversible() {
            return false;
        }

        public String describe() {
            return "disk " + disk + ": QEMU commits " + top + " into " + base;
        }
    }

    /** A {@code block-stream} job: what {@code base} holds is copied into {@code image}, which then reads base's backing. */
    record BlockStream(long pid, String disk, String jobId, String node, String newBackingNode, Path image,
                       Path base, Path newBacking, String newBackingFormat) implements Step {
        public boolean reversible() {
            return false;
        }

        public String describe() {
            return "disk " + disk + ": QEMU pulls " + base + " into " + image;
        }
    }

    /** QEMU closes a node no device uses any more (its file can then be removed). */
    record BlockdevDel(long pid, String disk, String formatNode, Path file) implements Step {
        public boolean reversible() {
            return false;
        }

        public String describe() {
            return "disk " + disk + ": QEMU closes " + file;
        }
    }

    /** QEMU deletes an internal snapshot of a disk's active image. */
    record LiveDeleteInternal(long pid, String disk, String node, Path image, String snapshot) implements Step {
        public boolean reversible() {
            return false;
        }

        public String describe() {
            return "disk " + disk + ": QEMU deletes internal snapshot " + snapshot + " of " + image;
        }
    }

    // ---------------------------------------------------------------- checkpoints (disks + memory)

    /**
     * QEMU's {@code snapshot-save} job: an internal snapshot {@code tag} of every image in
     * {@code images} (the disks' active images) at one instant, with the VM state inside
     * {@code vmstateImage}, as QEMU's savevm stores it (so QEMU's own loadvm reads it too). QEMU
     * stops the guest's CPUs for the job and starts them again after it (unless they were stopped
     * before), so a vmsnap that dies meanwhile leaves no paused guest. A job that ended without the
     * snapshot on every image is reported as never started (its leftovers removed).
     */
    record SaveVm(long pid, String jobId, String tag, Path vmstateImage, List<String> images) implements Step {
        public boolean reversible() {
            return false;
        }

        public String describe() {
            return "QEMU saves the checkpoint " + tag + " (VM state in " + vmstateImage + ")";
        }
    }

    /** Stops the guest's CPUs (planned only for a running guest); undo starts them again. */
    record StopGuest(long pid) implements Step {
        public boolean reversible() {
            return true;
        }

        public String describe() {
            return "pause the guest";
        }
    }

    /**
     * Starts the domain's QEMU with the guest's CPUs stopped (-S), unless it runs; the steps after
     * it with pid 0 act on that QEMU.
     */
    record StartPaused() implements Step {
        public boolean reversible() {
            return false;
        }

        public String describe() {
            return "start QEMU with the guest paused";
        }
    }

    /**
     * QEMU's {@code snapshot-load} job: every image in {@code images} back to its internal snapshot
     * {@code tag}, the guest's memory and devices from the VM state in {@code vmstateImage}; the
     * guest is stopped before (StopGuest or StartPaused), so running it again changes nothing. pid
     * 0: the QEMU this plan started. With no QEMU left, the images go back offline (the domain
     * stays shut off).
     */
    record LoadVm(long pid, String jobId, String tag, Path vmstateImage, List<String> images) implements Step {
        public boolean reversible() {
            return false;
        }

        public String describe() {
            return "QEMU loads the checkpoint " + tag;
        }
    }

    /**
     * A revert to an external checkpoint: the domain's QEMU starts in {@code runDir} waiting for a
     * migration stream and loads the checkpoint's memory {@code file} (verified when planned); the
     * guest stays paused (SetRunState decides). Run again after a crash, a QEMU that has loaded is
     * kept and one still loading is started again. A QEMU that cannot load it goes, and the domain
     * stays shut off at the checkpoint's disks (the plan still ends: the disks are reverted).
     */
    record StartFromMemory(Path runDir, Path runtimeFile, Path file) implements Step {
        public boolean reversible() {
            return false;
        }

        public String describe() {
            return "start QEMU from the memory file " + file;
        }
    }

    /**
     * A revert of a running domain stops its QEMU as the plan's first step rather than before the
     * plan is journaled: once journaled, a crash finishes the revert (this step is irreversible and
     * may have begun), never a domain shut off at the old disks. Done again, it finds QEMU gone.
     */
    record StopForRevert(long pid) implements Step {
        public boolean reversible() {
            return false;
        }

        public String describe() {
            return "stop QEMU (pid " + pid + ") to start it again from the checkpoint";
        }
    }

    /**
     * The end of a disk-only revert asked to leave the domain running or paused: QEMU starts from
     * the reverted disks (the guest boots), as {@code vmsnap start [--paused]} would. A step of the
     * plan, not a command after it: a crash between the disks' revert and the start finishes the
     * plan by starting the domain, never leaves it shut off. Done again, it finds QEMU up.
     */
    record BootAfterRevert(boolean paused) implements Step {
        public boolean reversible() {
            return false;
        }

        public String describe() {
            return paused ? "start the domain from the reverted disks, paused" : "start the domain from the reverted disks";
        }
    }

    /**
     * After a revert: the guest's CPUs run ({@code running}) or stay stopped. pid 0 as in LoadVm.
     * {@code quiesced}: the checkpoint's record of whether its memory holds the guest's filesystems
     * frozen, "yes" or "no"; null when it has none (older metadata; a journal of an older vmsnap).
     * Unless "no", a guest that runs again is asked through its agent whether it is frozen, and thawed.
     */
    record SetRunState(long pid, boolean running, String quiesced) implements Step {
        /** Whether the guest may be frozen once it runs (the agent is asked then). */
        public boolean mayBeFrozen() {
            return !"no".equals(quiesced);
        }

        public boolean reversible() {
            return false;
        }

        public String describe() {
            return running ? "resume the guest" : "leave the guest paused";
        }
    }

    // ---------------------------------------------------------------- memory save and restore
    // A save: PauseForSave, SaveMemory, PutFile (the run record's stop reason), QuitQemu, DropLink.
    // A restore: RestoreMemory, ResumeRestored (, RemoveSaveImage for a managed save). The guest
    // is never left paused by a dead vmsnap: until QEMU quits, the save is undone (the partial
    // file removed, the guest running again); once the state is loaded, a restore goes on.

    /** Stops the guest's CPUs for a save; undo runs them again if they ran before. */
    record PauseForSave(long pid, boolean wasRunning) implements Step {
        public boolean reversible() {
            return true;
        }

        public String describe() {
            return "pause the guest for the save";
        }
    }

    /**
     * QEMU migrates its state into a new memory file made under {@code partial} and linked to
     * {@code file} once whole; undo cancels the migration and removes what it made ({@code file}
     * only while it is the partial file's other name, the proof it is this plan's). {@code live}:
     * the guest runs meanwhile (pre-copy); QEMU stops it for the last pass only.
     */
    record SaveMemory(long pid, Path socketDir, Path file, Path partial, String domainXml, boolean wasRunning,
                      boolean live) implements Step {
        public boolean reversible() {
            return true;
        }

        public String describe() {
            return "save the guest's memory to " + file;
        }
    }

    /**
     * After an external checkpoint's memory and disks: the guest runs again if it ran before
     * (QEMU left it stopped, its images inactive, when the migration ended); not a revert, so the
     * run reason stays.
     */
    record ResumeAfterSave(long pid, boolean wasRunning) implements Step {
        public boolean reversible() {
            return false;
        }

        public String describe() {
            return wasRunning ? "resume the guest" : "leave the guest paused";
        }
    }

    // A checkpoint with --live (internal; external of a running guest: its overlays made and
    // opened before): SaveToSwitchover, SnapshotAtSwitchover, FinishSwitchover, ResumeAfterSave,
    // the metadata, DropLink. Only the vmsnap that reads QEMU's stream can finish
    // the memory file, so everything up to a whole, published file is undone after a crash: the
    // disks' snapshots deleted, the migration cancelled (QEMU resumes the guest), the file removed.
    // The guest is paused from the end of the first to the middle of the third: the first two are
    // marked done with the third (markWithNext), after the guest runs again.

    /**
     * QEMU migrates the running guest's state into a new memory file (made under {@code partial})
     * with {@code pause-before-switchover}: the step ends when QEMU has stopped the guest for the
     * last pass, with the images still active. Undo cancels the migration, waits until QEMU has
     * ended it (the guest runs again), and removes what the step made.
     */
    record SaveToSwitchover(long pid, Path socketDir, Path file, Path partial, String domainXml) implements Step {
        public boolean reversible() {
            return true;
        }

        public String describe() {
            return "save the guest's memory to " + file + " up to its last pass";
        }

        @Override
        public boolean markWithNext() {
            return true;
        }
    }

    /**
     * The disks' internal snapshots in one {@code transaction} while QEMU holds the save at its
     * last pause ({@code actions} as in {@link SnapshotTransaction}), and right
     * behind it, without waiting for its reply, {@code migrate-continue}: the save goes on to its
     * end (a failed transaction is then undone with the save). Undo deletes those of the internal
     * snapshots that exist (after a {@code cont} if the migration had ended: QEMU 7.2 aborts on a
     * snapshot delete in an inactive image) and commits an external overlay QEMU put on top back
     * into the image below it (the guest may have written into it).
     */
    record SnapshotAtSwitchover(long pid, List<String> actions) implements Step {
        public boolean reversible() {
            return true;
        }

        public String describe() {
            return "QEMU snapshots " + actions.size() + (actions.size() == 1 ? " disk" : " disks")
                    + " at the save's last pause";
        }

        @Override
        public boolean markWithNext() {
            return true;
        }
    }

    /**
     * Once the save has ended, QEMU runs the guest again at once ({@code cont}, which also
     * reactivates the images), then the memory file is synced and linked to {@code file}. Undo as
     * {@link SaveToSwitchover}'s.
     */
    record FinishSwitchover(long pid, Path file, Path partial) implements Step {
        public boolean reversible() {
            return true;
        }

        public String describe() {
            return "finish the memory file " + file + " and resume the guest";
        }
    }

    /** QEMU quits: its state is in the memory file. */
    record QuitQemu(long pid) implements Step {
        public boolean reversible() {
            return false;
        }

        public String describe() {
            return "stop QEMU (pid " + pid + ")";
        }
    }

    /**
     * QEMU is started in {@code runDir} waiting for a stream, and loads {@code file}; undo kills the
     * QEMU of that run folder (the domain was shut off: only this plan started one there) and
     * removes the domain's run record.
     */
    record RestoreMemory(Path runDir, Path runtimeFile, Path file) implements Step {
        public boolean reversible() {
            return true;
        }

        public String describe() {
            return "restore the guest's memory from " + file;
        }
    }

    /** The restored guest runs ({@code running}) or stays paused. */
    record ResumeRestored(Path runDir, boolean running) implements Step {
        public boolean reversible() {
            return false;
        }

        public String describe() {
            return running ? "resume the restored guest" : "leave the restored guest paused";
        }
    }

    /** Removes the managed save image the domain was just restored from (vmsnap made it). */
    record RemoveSaveImage(Path file) implements Step {
        public boolean reversible() {
            return false;
        }

        public String describe() {
            return "remove the managed save image " + file;
        }
    }
}
