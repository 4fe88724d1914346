package org.vmsnap.manager.plan;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import org.vmsnap.manager.ManagerException;
import org.vmsnap.manager.store.AtomicFiles;
import org.vmsnap.qcow2.BlockDevice;
import org.vmsnap.qcow2.ImageCommit;
import org.vmsnap.qcow2.ImageRebase;
import org.vmsnap.qcow2.Images;
import org.vmsnap.qcow2.OpenOptions;
import org.vmsnap.qcow2.Progress;
import org.vmsnap.qcow2.Qcow2CreateOptions;
import org.vmsnap.qcow2.Qcow2Image;
import org.vmsnap.qcow2.SnapshotInfo;

/** Runs steps on the image files of a shut-off domain with the qcow2 engine. */
public final class OfflineExecutor implements StepExecutor {

    @Override
    public void run(Step step) throws IOException {
        switch (step) {
            case Step.PutFile p -> put(p.file(), p.content());
            case Step.CreateInternal c -> {
                try (Qcow2Image img = openRw(c.image())) {
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
            case Step.RenameInternal r -> rename(r.image(), r.from(), r.to());
            case Step.ApplyInternal a -> {
                try (Qcow2Image img = openRw(a.image())) {
                    img.applySnapshot(byName(img, a.snapshot()));
                }
            }
            case Step.CreateOverlay o -> createOverlay(o);
            case Step.SnapshotOverlay o -> {
                String id;
                try (Qcow2Image img = Qcow2Image.open(o.image(), OpenOptions.readOnlyOpen().withOpenBacking(false))) {
                    id = byName(img, o.snapshot());
                }
                SnapshotOverlay.make(o.image(), id, o.target());
            }
            case Step.Commit c -> ImageCommit.commit(c.top(), "qcow2", c.base().toString(), true, Progress.NONE);
            case Step.Rebase r -> rebase(r);
            case Step.RemoveFile r -> {
                if (Files.deleteIfExists(r.file())) {
                    AtomicFiles.syncFolder(r.file().toAbsolutePath().getParent());
                }
            }
        }
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
                    remove(o.overlay());
                }
            }
            case Step.SnapshotOverlay o -> remove(o.target());
            case Step.RenameInternal r -> rename(r.image(), r.to(), r.from());
            default -> throw new IllegalStateException("step cannot be undone: " + step.describe());
        }
    }

    /** Renames {@code from} to {@code to} unless that is done already (a rerun after a crash). */
    private static void rename(Path image, String from, String to) throws IOException {
        try (Qcow2Image img = openRw(image)) {
            if (has(img, from) && !has(img, to)) {
                img.renameSnapshot(byName(img, from), to);
            }
        }
    }

    private static void put(Path file, String content) throws IOException {
        if (content == null) {
            AtomicFiles.delete(file);
        } else {
            AtomicFiles.write(file, content);
        }
    }

    private static void remove(Path file) throws IOException {
        if (Files.deleteIfExists(file)) {
            AtomicFiles.syncFolder(file.toAbsolutePath().getParent());
        }
    }

    private static Qcow2Image openRw(Path image) throws IOException {
        return Qcow2Image.open(image, OpenOptions.readWrite().withOpenBacking(false));
    }

    private static boolean hasReadOnly(Path image, String name) throws IOException {
        try (Qcow2Image img = Qcow2Image.open(image, OpenOptions.readOnlyOpen().withOpenBacking(false))) {
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
        if (o.reuse() && Files.exists(o.overlay())) {
            return; // checked by the planner: a qcow2 image over the right backing file
        }
        Files.deleteIfExists(o.overlay()); // a half-made overlay of a crashed run
        long size;
        try (BlockDevice base = Images.open(o.backing(), OpenOptions.readOnlyOpen().withFormat(o.backingFormat())
                .withOpenBacking(false))) {
            size = base.size();
        }
        Path tmp = o.overlay();
        try (Qcow2Image img = Qcow2Image.create(tmp, Qcow2CreateOptions.ofSize(size)
                .withBacking(o.backing().toString(), o.backingFormat()))) {
            img.flush();
        }
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
        AtomicFiles.syncFolder(tmp.toAbsolutePath().getParent());
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
