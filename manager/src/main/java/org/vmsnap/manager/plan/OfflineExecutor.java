package org.vmsnap.manager.plan;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import org.vmsnap.manager.ManagerException;
import org.vmsnap.manager.store.AtomicFiles;
import org.vmsnap.qcow2.BlockDevice;
import org.vmsnap.qcow2.ImageCommit;
import org.vmsnap.qcow2.ImageFiles;
import org.vmsnap.qcow2.ImageInUseException;
import org.vmsnap.qcow2.ImageRebase;
import org.vmsnap.qcow2.Images;
import org.vmsnap.qcow2.OpenOptions;
import org.vmsnap.qcow2.Progress;
import org.vmsnap.qcow2.Qcow2CreateOptions;
import org.vmsnap.qcow2.Qcow2Image;
import org.vmsnap.qcow2.SnapshotInfo;

/**
 * Runs steps on the image files of a shut-off domain with the qcow2 engine. Files are removed
 * only under the rule of {@link ImageFiles#deleteUnlessInUse}: a file another process holds is
 * kept and a warning says so.
 */
public final class OfflineExecutor implements StepExecutor {
    private final Consumer<String> warnings;

    /** @param warnings receives one line per thing the user should know (a file kept, ...) */
    public OfflineExecutor(Consumer<String> warnings) {
        this.warnings = warnings;
    }

    @Override
    public void run(Step step) throws IOException {
        switch (step) {
            case Step.PutFile p -> put(p.file(), p.content());
            case Step.CreateInternal c -> {
                try (Qcow2Image img = notStarted(() -> openRw(c.image()))) {
                    if (!has(img, c.snapshot())) {
                        img.createSnapshot(c.snapshot());
                    }
                }
            }
            case Step.DeleteInternal d -> {
                if (Files.exists(d.image())) {
                    try (Qcow2Image img = openRw(d.image())) {
                        if (has(img, d.snapshot())) {
                            img.deleteSnapshot(byName(img, d.snapshot()));
                        }
                    }
                }
            }
            case Step.RenameInternal r -> {
                try (Qcow2Image img = notStarted(() -> openRw(r.image()))) {
                    rename(img, r.from(), r.to());
                }
            }
            case Step.ApplyInternal a -> {
                try (Qcow2Image img = openRw(a.image())) {
                    img.applySnapshot(byName(img, a.snapshot()));
                }
            }
            case Step.CreateOverlay o -> createOverlay(o);
            case Step.SnapshotOverlay o -> {
                if (MadeFiles.isOurs(o.target(), o.partial())) {
                    return; // made before a crash
                }
                refuseTaken(o.target(), o.disk());
                String id;
                try (Qcow2Image img = notStarted(() -> Qcow2Image.open(o.image(),
                        OpenOptions.readOnlyOpen().withOpenBacking(false)))) {
                    id = byName(img, o.snapshot());
                }
                MadeFiles.dropPartial(o.partial()); // a half-made one of a crashed run of this plan
                SnapshotOverlay.make(o.image(), id, o.partial());
                MadeFiles.publish(o.partial(), o.target(), o.disk());
            }
            case Step.Commit c -> ImageCommit.commit(c.top(), "qcow2", c.base().toString(), true, Progress.NONE);
            case Step.Rebase r -> rebase(r);
            case Step.RemoveFile r -> removeOwned(r);
            case Step.DropLink d -> MadeFiles.dropPartial(d.partial());
            case Step.DeletePending d -> deletePending(d);
            case Step.Freeze f -> throw liveOnly(f);
            case Step.Thaw t -> throw liveOnly(t);
            case Step.BlockdevAdd b -> throw liveOnly(b);
            case Step.SnapshotTransaction t -> throw liveOnly(t);
            case Step.BlockCommit c -> throw liveOnly(c);
            case Step.BlockStream b -> throw liveOnly(b);
            case Step.BlockdevDel b -> throw liveOnly(b);
            case Step.LiveDeleteInternal d -> throw liveOnly(d);
            case Step.SaveVm v -> throw liveOnly(v);
            case Step.StopGuest g -> throw liveOnly(g);
            case Step.StartPaused p -> throw liveOnly(p);
            case Step.StartFromMemory m -> throw liveOnly(m);
            case Step.StopForRevert r -> throw liveOnly(r);
            case Step.BootAfterRevert b -> throw liveOnly(b);
            case Step.LoadVm l -> throw liveOnly(l);
            case Step.SetRunState r -> throw liveOnly(r);
            case Step.PauseForSave p -> throw liveOnly(p);
            case Step.SaveMemory m -> throw liveOnly(m);
            case Step.SaveToSwitchover m -> throw liveOnly(m);
            case Step.SnapshotAtSwitchover m -> throw liveOnly(m);
            case Step.FinishSwitchover m -> throw liveOnly(m);
            case Step.QuitQemu q -> throw liveOnly(q);
            case Step.ResumeAfterSave r -> throw liveOnly(r);
            case Step.RestoreMemory r -> throw liveOnly(r);
            case Step.ResumeRestored r -> throw liveOnly(r);
            case Step.RemoveSaveImage r -> throw liveOnly(r);
        }
    }

    private static IllegalStateException liveOnly(Step s) {
        return new IllegalStateException("a live step needs the live executor: " + s.describe());
    }

    @Override
    public void undo(Step step) throws IOException {
        switch (step) {
            case Step.PutFile p -> put(p.file(), p.previous());
            case Step.CreateInternal c -> {
                // Looked up read-only first: when the create failed before making the snapshot
                // (an image vmsnap only reads, a locked one) there is nothing to undo, and
                // opening it for writing would only fail again.
                if (Files.exists(c.image()) && hasReadOnly(c.image(), c.snapshot())) {
                    try (Qcow2Image img = openRw(c.image())) {
                        if (has(img, c.snapshot())) {
                            img.deleteSnapshot(byName(img, c.snapshot()));
                        }
                    }
                }
            }
            case Step.CreateOverlay o -> {
                if (!o.reuse()) {
                    removeMade(o.overlay(), o.partial());
                }
            }
            case Step.SnapshotOverlay o -> removeMade(o.target(), o.partial());
            case Step.RenameInternal r -> {
                try (Qcow2Image img = openRw(r.image())) {
                    rename(img, r.to(), r.from());
                }
            }
            default -> throw new IllegalStateException("step cannot be undone: " + step.describe());
        }
    }

    private interface Opener<T> {
        T open() throws IOException;
    }

    /** Opening is where a step fails before it changes anything (locked, missing, read-only). */
    private static <T> T notStarted(Opener<T> opener) throws IOException {
        try {
            return opener.open();
        } catch (IOException e) {
            throw new StepNotStartedException(e);
        }
    }

    /** Renames {@code from} to {@code to} unless that is done already (a rerun after a crash). */
    private static void rename(Qcow2Image img, String from, String to) throws IOException {
        if (has(img, from) && !has(img, to)) {
            img.renameSnapshot(byName(img, from), to);
        }
    }

    private static void put(Path file, String content) throws IOException {
        if (content == null) {
            AtomicFiles.delete(file);
        } else {
            AtomicFiles.write(file, content);
        }
    }

    /** Removes a file a step made (proved by its partial link), then the link. */
    private static void removeMade(Path file, Path partial) throws IOException {
        if (MadeFiles.isOurs(file, partial)) {
            ImageFiles.deleteUnlessInUse(file); // in use: the undo fails and is retried later
        }
        MadeFiles.dropPartial(partial);
    }

    /** A name that is taken now was free when the plan was made: someone else's file. */
    private static void refuseTaken(Path target, String disk) throws IOException {
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            throw new StepNotStartedException(new ManagerException("disk " + disk + ": " + target
                    + " already exists (it appeared after the operation was planned); it is not vmsnap's and is"
                    + " left alone"));
        }
    }

    private void removeOwned(Step.RemoveFile r) throws IOException {
        try {
            ImageFiles.deleteUnlessInUse(r.file());
        } catch (ImageInUseException e) {
            warnings.accept("kept " + r.file() + ": " + reason(e) + "; it is no longer needed, and a later"
                    + " vmsnap command on the domain removes it once nothing holds it");
            return;
        } catch (java.nio.file.AccessDeniedException e) {
            warnings.accept("kept " + r.file() + ": permission denied; it is no longer needed, and a later"
                    + " vmsnap command on the domain removes it once it may");
            return;
        }
        for (Path list : new Path[] {r.ownedList(), r.mirrorList()}) {
            String owned = list == null ? null : AtomicFiles.readOrNull(list);
            if (owned == null) {
                continue;
            }
            List<String> kept = new ArrayList<>();
            for (String line : owned.split("\n", -1)) {
                if (!line.isEmpty() && !line.equals(r.file().toString())) {
                    kept.add(line);
                }
            }
            String now = kept.isEmpty() ? "" : String.join("\n", kept) + "\n";
            if (!now.equals(owned)) {
                AtomicFiles.write(list, now);
            }
        }
    }

    private void deletePending(Step.DeletePending d) throws IOException {
        run(new Step.DeleteInternal(d.disk(), d.image(), d.snapshot()));
        String line = new org.vmsnap.manager.store.DomainStore.PendingDelete(d.image(), d.snapshot()).line();
        for (Path list : new Path[] {d.pendingList(), d.mirrorList()}) {
            String text = list == null ? null : AtomicFiles.readOrNull(list);
            if (text == null) {
                continue;
            }
            List<String> kept = new ArrayList<>();
            for (String l : text.split("\n")) {
                if (!l.isEmpty() && !l.equals(line)) {
                    kept.add(l);
                }
            }
            if (kept.isEmpty()) {
                AtomicFiles.delete(list);
            } else {
                AtomicFiles.write(list, String.join("\n", kept) + "\n");
            }
        }
    }

    /** The lock message without the file name it starts with. */
    private static String reason(ImageInUseException e) {
        String m = e.getMessage();
        String prefix = e.file() + ": ";
        return m.startsWith(prefix) ? m.substring(prefix.length()) : m;
    }

    private static Qcow2Image openRw(Path image) throws IOException {
        return Qcow2Image.open(image, OpenOptions.readWrite().withOpenBacking(false));
    }

    private static boolean hasReadOnly(Path image, String name) throws IOException {
        // Without locks: only the snapshot table is read, and a process that holds the image must
        // not make the question fail.
        try (Qcow2Image img = Qcow2Image.open(image, OpenOptions.readOnlyOpen().withOpenBacking(false)
                .withForceShare(true))) {
            return has(img, name);
        }
    }

    private static boolean has(Qcow2Image img, String name) {
        return img.snapshots().stream().anyMatch(s -> s.name().equals(name));
    }

    /** Internal snapshots are addressed by name only: a numeric name must not hit another's id. */
    private static String byName(Qcow2Image img, String name) throws ManagerException {
        for (SnapshotInfo s : img.snapshots()) {
            if (s.name().equals(name)) {
                return s.id().equals(name) || img.snapshots().stream().noneMatch(o -> o.id().equals(name)) ? name
                        : s.id();
            }
        }
        throw new ManagerException(img.path() + ": no internal snapshot named '" + name + "'");
    }

    private static void createOverlay(Step.CreateOverlay o) throws IOException {
        if (o.reuse()) {
            return; // the planner checked it: a qcow2 image over the right backing file
        }
        if (MadeFiles.isOurs(o.overlay(), o.partial())) {
            return; // made before a crash
        }
        refuseTaken(o.overlay(), o.disk());
        long size;
        // Only the virtual size is read, without locks: the backing may be a running QEMU's active
        // image (a live snapshot); the plan's preflight checked the locks of a shut-off domain's.
        try (BlockDevice base = notStarted(() -> Images.open(o.backing(), OpenOptions.readOnlyOpen()
                .withFormat(o.backingFormat()).withOpenBacking(false).withForceShare(true)))) {
            size = base.size();
        }
        MadeFiles.dropPartial(o.partial()); // a half-made one of a crashed run of this plan
        Qcow2Image.createFile(o.partial(), Qcow2CreateOptions.ofSize(size)
                .withBacking(o.backing().toString(), o.backingFormat()));
        Files.setPosixFilePermissions(o.partial(), PosixFilePermissions.fromString("rw-------"));
        MadeFiles.publish(o.partial(), o.overlay(), o.disk());
    }

    private static void rebase(Step.Rebase r) throws IOException {
        String target = r.newBacking() == null ? null : r.newBacking().toString();
        try (Qcow2Image img = openRw(r.image())) {
            String now = img.backingFileName();
            if (now != null && target != null) {
                Path resolved = r.image().toAbsolutePath().getParent().resolve(now).normalize();
                if (resolved.equals(r.newBacking())) {
                    return; // done before a crash: the header switch is the rebase's last write
                }
            } else if (now == null && target == null) {
                return;
            }
        }
        ImageRebase.rebase(r.image(), "qcow2", target, r.newBackingFormat(), !r.safe(), Progress.NONE);
    }
}
