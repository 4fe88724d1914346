package org.vmsnap.manager;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import org.vmsnap.manager.live.LiveExecutor;
import org.vmsnap.manager.live.LiveQemu;
import org.vmsnap.manager.live.RunRecord;
import org.vmsnap.manager.plan.Journal;
import org.vmsnap.manager.plan.OfflineExecutor;
import org.vmsnap.manager.plan.Plan;
import org.vmsnap.manager.plan.PlanRunner;
import org.vmsnap.manager.plan.Step;
import org.vmsnap.manager.plan.StepExecutor;
import org.vmsnap.manager.store.DomainStore;
import org.vmsnap.manager.xml.DiskDef;
import org.vmsnap.manager.xml.Domain;
import org.vmsnap.qmp.MemoryFileWriter;

/**
 * virsh save, restore and managedsave of one domain, each a journaled plan (see {@link Step}'s
 * memory steps): the guest is paused for the save and the domain ends shut off; until QEMU quits a
 * failure or a crash undoes the save (no file under the final name, the guest running again);
 * once QEMU has loaded the state, a restore goes on. Called under the domain's lock.
 */
final class MemorySaves {
    private final DomainStore store;
    private final Lifecycle life;
    private final Consumer<String> warnings;

    MemorySaves(DomainStore store, Lifecycle life, Consumer<String> warnings) {
        this.store = store;
        this.life = life;
        this.warnings = warnings;
    }

    /** Where virsh managedsave keeps the domain's state: vmsnap's state folder. */
    static Path managedSaveFile(DomainStore store) {
        return store.dir().resolve("managed.save");
    }

    /**
     * Saves the running domain's state to {@code file} and stops it. {@code running}: the state a
     * restore gives the guest (null: as it is now). {@code xml}: another definition to store
     * (same name, UUID and disks), or null for the domain's own.
     */
    void save(Path file, Boolean running, String xml) throws IOException {
        MemoryFileWriter.preload();
        LiveQemu q = life.probe().orElseThrow(() -> new InvalidInputException(
                "Requested operation is not valid: domain is not running"));
        try (q) {
            Path target = file.toAbsolutePath().normalize();
            try {
                MemoryFileWriter.refuseExisting(target);
            } catch (FileAlreadyExistsException e) {
                throw new InvalidInputException(target + ": file exists; vmsnap does not overwrite it");
            }
            if (!Files.isDirectory(target.getParent())) {
                throw new InvalidInputException(target + ": No such file or directory (its folder does not exist)");
            }
            Domain d = store.readDomain();
            String stored = d.toXml();
            if (xml != null) {
                Domain alt = Domain.parse(xml);
                checkSameDomain(alt, d, "the --xml definition");
                stored = alt.toXml();
            }
            String state = q.qemuStatus();
            boolean wasRunning = state.equals("running");
            boolean restoreRunning = running != null ? running : wasRunning;
            RunRecord r = q.record();
            Path partial = MemoryFileWriter.partialFor(target);
            Plan plan = new Plan("save of domain " + d.name() + " to " + target);
            plan.add(new Step.PauseForSave(q.pid(), wasRunning));
            plan.add(new Step.SaveMemory(q.pid(), r.runDir(), target, partial, stored, restoreRunning, false));
            plan.add(new Step.PutFile(store.runtimeFile(), r.withStopIntent("saved").encode(), r.encode()));
            plan.add(new Step.QuitQemu(q.pid()));
            plan.add(new Step.DropLink(partial));
            new PlanRunner(new Journal(store.journalFile()), new LiveExecutor(new OfflineExecutor(warnings), q))
                    .run(plan);
        }
        life.probe(); // records the stop ("saved") and cleans the run folder
    }

    /** virsh start of a domain with a managed save image: restores it, then removes it. */
    void restoreManaged(boolean paused) throws IOException {
        Path file = managedSaveFile(store);
        SaveImage image = SaveImage.open(file);
        restore(image, paused ? Boolean.FALSE : null, null, true);
    }

    /**
     * Starts the shut-off domain from a save image (checked whole first). {@code running}: the
     * state afterwards (null: as saved). {@code xml}: another definition to start with (same
     * name, UUID and disks).
     */
    void restore(SaveImage image, Boolean running, String xml, boolean removeAfter) throws IOException {
        if (life.probe().isPresent()) {
            throw new InvalidInputException("Requested operation is not valid: domain '" + store.name()
                    + "' is already active");
        }
        Domain saved = Domain.parse(image.domainXml());
        Domain d = store.readDomain();
        checkSameDomain(saved, d, image.file() + " (saved domain)");
        Domain boot = saved;
        if (xml != null) {
            boot = Domain.parse(xml);
            checkSameDomain(boot, d, "the --xml definition");
        }
        boolean run = running != null ? running : image.wasRunning();
        Path runDir = life.runDir(boot);
        Plan plan = new Plan("restore of domain " + d.name() + " from " + image.file());
        plan.add(new Step.RestoreMemory(runDir, store.runtimeFile(), image.file()));
        plan.add(new Step.ResumeRestored(runDir, run));
        if (removeAfter) {
            plan.add(new Step.RemoveSaveImage(image.file()));
        }
        Domain bootDomain = boot;
        LiveExecutor live = new LiveExecutor(new OfflineExecutor(warnings), null);
        StepExecutor executor = new StepExecutor() {
            @Override
            public void run(Step step) throws IOException {
                if (step instanceof Step.RestoreMemory) {
                    life.startIncoming(bootDomain, !run, image.source(), image.file().toString());
                } else {
                    live.run(step);
                }
            }

            @Override
            public void undo(Step step) throws IOException {
                live.undo(step);
            }
        };
        new PlanRunner(new Journal(store.journalFile()), executor).run(plan);
    }

    /**
     * A saved domain must be this domain with these disks: the same name and UUID, and the same
     * disks (target, file, format), or QEMU's devices and the guest's view of its disks would
     * not match.
     */
    static void checkSameDomain(Domain saved, Domain d, String what) throws InvalidInputException {
        if (!saved.name().equals(d.name()) || saved.uuid() != null && d.uuid() != null
                && !saved.uuid().equalsIgnoreCase(d.uuid())) {
            throw new InvalidInputException(what + " is domain '" + saved.name() + "' (uuid " + saved.uuid()
                    + "), not '" + d.name() + "' (uuid " + d.uuid() + ")");
        }
        List<String> a = disks(saved);
        List<String> b = disks(d);
        if (!a.equals(b)) {
            throw new InvalidInputException(what + " has disks " + String.join(", ", a) + " but domain '"
                    + d.name() + "' now has " + String.join(", ", b) + ": the devices would not match");
        }
    }

    private static List<String> disks(Domain d) {
        List<String> out = new ArrayList<>();
        for (DiskDef disk : d.disks()) {
            out.add(disk.target() + "=" + disk.source().toAbsolutePath().normalize() + " (" + disk.format() + ")");
        }
        return out;
    }

    static boolean hasManagedSave(DomainStore store) {
        return Files.exists(managedSaveFile(store), LinkOption.NOFOLLOW_LINKS);
    }
}
