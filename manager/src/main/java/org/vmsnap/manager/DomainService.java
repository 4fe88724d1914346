package org.vmsnap.manager;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.UUID;
import java.util.stream.Stream;

import org.vmsnap.manager.live.LiveExecutor;
import org.vmsnap.manager.live.LiveInfo;
import org.vmsnap.manager.live.LiveQemu;
import org.vmsnap.manager.live.MachineBuilder;
import org.vmsnap.manager.live.RunRecord;
import org.vmsnap.manager.live.TranslatedMachine;
import org.vmsnap.manager.plan.Journal;
import org.vmsnap.manager.plan.OfflineExecutor;
import org.vmsnap.manager.plan.PlanRunner;
import org.vmsnap.manager.store.AtomicFiles;
import org.vmsnap.manager.store.DomainLock;
import org.vmsnap.manager.store.DomainStore;
import org.vmsnap.manager.xml.DiskDef;
import org.vmsnap.manager.xml.Names;

import org.vmsnap.manager.xml.Domain;
import org.vmsnap.manager.xml.SnapshotDef;
import org.vmsnap.qcow2.ImageFiles;
import org.vmsnap.qcow2.ImageInUseException;

/** Defined domains under one state folder: define, undefine, list, look up. */
public final class DomainService {
    private final Path home;
    private final Consumer<String> warnings;

    /** Warnings (files kept, interrupted operations finished) are collected and dropped. */
    public DomainService(Path home) {
        this(home, w -> { });
    }

    /** @param warnings receives one line per thing the user should know beyond the result */
    public DomainService(Path home, Consumer<String> warnings) {
        this.home = home;
        this.warnings = warnings;
    }

    /**
     * {@code $VMSNAP_HOME}, or {@code ~/.local/share/vmsnap}; the system property
     * {@code vmsnap.home} comes first (the demo runs commands in process on its own folder).
     */
    public static Path defaultHome() {
        String prop = System.getProperty("vmsnap.home");
        if (prop != null && !prop.isEmpty()) {
            return Path.of(prop).toAbsolutePath();
        }
        String env = System.getenv("VMSNAP_HOME");
        if (env != null && !env.isEmpty()) {
            return Path.of(env).toAbsolutePath();
        }
        return Path.of(System.getProperty("user.home"), ".local", "share", "vmsnap");
    }

    /**
     * Where the CLI daemon of the state folder {@code home} listens (see RunRoot.daemonSocket);
     * the private run root that holds it is made when missing.
     */
    public static Path daemonSocket(Path home) throws IOException {
        Path socket = org.vmsnap.manager.store.RunRoot.daemonSocket(home);
        AtomicFiles.privateDirectories(socket.getParent());
        return socket;
    }

    /** Writes a small file of vmsnap's under the state folder whole or not at all (made 0700 when missing). */
    public static void writeStateFile(Path home, String name, String text) throws IOException {
        AtomicFiles.privateDirectories(home);
        AtomicFiles.write(home.resolve(name), text);
    }

    public Path home() {
        return home;
    }

    /** Defines a new domain or updates one with the same name (and UUID); returns it with its UUID. */
    public Domain define(String xml) throws IOException {
        Domain parsed = Domain.parse(xml);
        Domain d = parsed.uuid() != null ? parsed : parsed.withUuid(UUID.randomUUID().toString());
        for (Domain other : list()) {
            if (!other.name().equals(d.name()) && other.uuid() != null && other.uuid().equalsIgnoreCase(d.uuid())) {
                throw new InvalidInputException("domain '" + other.name() + "' already exists with uuid " + d.uuid());
            }
        }
        DomainStore store = store(d.name());
        AtomicFiles.privateDirectories(store.dir());
        try (DomainLock lock = store.lock()) {
            recoverOrFail(store);
            boolean existed = store.exists();
            if (existed) {
                Domain old = store.readDomain();
                if (parsed.uuid() == null) {
                    d = parsed.withUuid(old.uuid());
                } else if (old.uuid() != null && !old.uuid().equalsIgnoreCase(d.uuid())) {
                    throw new InvalidInputException("domain '" + d.name() + "' is already defined with uuid "
                            + old.uuid());
                }
            }
            AtomicFiles.write(store.domainFile(), d.toXml());
            mirrorDefinition(d, existed);
        }
        return d;
    }

    /**
     * The mirror beside the images follows a redefinition; a new definition (the state folder was
     * lost, say) never replaces a mirror's copy: that copy is what {@code recover} restores.
     * Best effort: the next plan writes the whole mirror when it finds it missing or stale.
     */
    private static void mirrorDefinition(Domain d, boolean existed) {
        Path mirror = mirrorFolder(d);
        if (mirror == null) {
            return;
        }
        try {
            Path file = mirror.resolve("domain.xml");
            if (existed || AtomicFiles.readOrNull(file) == null) {
                AtomicFiles.write(file, d.toXml());
            }
        } catch (IOException e) {
            // a folder vmsnap may not write: the first plan says so
        }
    }

    /** An image of a disk ({@code disk} is its target, or "-" for an image no disk uses now). */
    public record Volume(String disk, Path file, String keptBecause) {
    }

    /** The files of a run folder, all vmsnap's: sockets, logs, pid and exit status of its QEMU. */
    private static final List<String> RUN_FILES = List.of("qmp.sock", "qga.sock", "status.sock", "serial.log",
            "qemu.log", "qemu.pid", "exit-status", "runtime");

    /** What undefine did with the images: removed, and kept (with the reason). */
    public record UndefineResult(List<Volume> removed, List<Volume> kept) {
    }

    /**
     * Removes a domain's definition. Refuses when it has snapshot metadata unless
     * {@code snapshotsMetadata}. With {@code removeAllStorage}, removes the images vmsnap made
     * for the domain (its overlays), each under QEMU's write lock; images vmsnap did not make
     * (the user's own disks and templates) are kept and named, as virsh keeps volumes libvirt
     * does not manage, and so is an image another process holds.
     */
    public UndefineResult undefine(String name, boolean snapshotsMetadata, boolean removeAllStorage)
            throws IOException {
        return undefine(name, snapshotsMetadata, removeAllStorage, false);
    }

    /** virsh undefine [--managed-save]: a managed save image is refused unless removed with it. */
    public UndefineResult undefine(String name, boolean snapshotsMetadata, boolean removeAllStorage,
                                   boolean managedSave) throws IOException {
        DomainStore store = existing(name);
        List<Volume> removed = new ArrayList<>();
        List<Volume> kept = new ArrayList<>();
        try (DomainLock lock = store.lock()) {
            recoverOrFail(store);
            if (lifecycle(store).probe().isPresent()) {
                throw new InvalidInputException("Requested operation is not valid: domain " + name + " is running;"
                        + " destroy it or shut it down first (vmsnap keeps no transient domains)");
            }
            if (MemorySaves.hasManagedSave(store)) {
                if (!managedSave) {
                    throw new InvalidInputException("Refusing to undefine while domain managed save image exists");
                }
                Files.delete(MemorySaves.managedSaveFile(store)); // vmsnap's own file in its state folder
            }
            Domain d = store.readDomain();
            List<SnapshotDef> snapshots = store.readSnapshots();
            if (!snapshots.isEmpty() && !snapshotsMetadata) {
                throw new InvalidInputException("Requested operation is not valid: cannot delete inactive domain with "
                        + snapshots.size() + " snapshots");
            }
            if (removeAllStorage) {
                Set<Path> owned = store.readOwned();
                // Each disk's images, top first: the user's own (a template, an installed system)
                // are named and kept, as virsh keeps volumes libvirt does not manage.
                Map<Path, String> diskOf = new LinkedHashMap<>();
                ImageGraph graph = ImageGraph.read(d.disks().stream().map(DiskDef::source).toList());
                for (DiskDef disk : d.disks()) {
                    if (!disk.readOnly() && "disk".equals(disk.device())) {
                        for (Path p : graph.chain(disk.source().toAbsolutePath().normalize())) {
                            diskOf.putIfAbsent(p, disk.target());
                        }
                    }
                }
                for (Map.Entry<Path, String> e : diskOf.entrySet()) {
                    if (!owned.contains(e.getKey())) {
                        kept.add(new Volume(e.getValue(), e.getKey(), "not managed by vmsnap (vmsnap did not create"
                                + " it)"));
                    }
                }
                for (Path f : owned) {
                    String disk = diskOf.getOrDefault(f, "-");
                    try {
                        if (ImageFiles.deleteUnlessInUse(f)) {
                            removed.add(new Volume(disk, f, null));
                        }
                    } catch (ImageInUseException e) {
                        kept.add(new Volume(disk, f, e.getMessage()));
                    }
                }
            }
            for (SnapshotDef s : snapshots) {
                Files.deleteIfExists(store.snapshotFile(s.name()));
            }
            removeOwnFolder(store.dir().resolve("snapshots"), List.of());
            for (String f : List.of("domain.xml", "current", "owned", "journal", "shutoff-reason", "pending-deletes",
                    "retired")) {
                Files.deleteIfExists(store.dir().resolve(f));
            }
            Path mirror = mirrorFolder(d);
            if (mirror != null) {
                List<String> files = new ArrayList<>(List.of("domain.xml", "current", "owned", "pending-deletes",
                        "retired"));
                snapshots.forEach(s -> files.add(s.name() + ".xml"));
                removeOwnFolder(mirror, files);
            }
        }
        // The run folder's files are vmsnap's (sockets, logs, pid and exit status of its QEMUs).
        removeOwnFolder(store.runFolder(), RUN_FILES);
        Files.deleteIfExists(store.lockFile());
        removeOwnFolder(store.dir(), List.of());
        return new UndefineResult(removed, kept);
    }

    /** The folder beside the first disk where vmsnap keeps a copy of the metadata. */
    private static Path mirrorFolder(Domain d) {
        for (DiskDef disk : d.disks()) {
            return disk.source().toAbsolutePath().getParent().resolve("." + d.name() + ".vmsnap");
        }
        return null;
    }

    /**
     * Removes the files vmsnap writes in one of its own folders ({@code names}, and temporary
     * files of interrupted atomic writes), then the folder if nothing else is in it: a file
     * someone else put there is kept, and so is the folder.
     */
    private void removeOwnFolder(Path dir, List<String> names) throws IOException {
        if (!Files.isDirectory(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        for (String n : names) {
            Files.deleteIfExists(dir.resolve(n));
            Files.deleteIfExists(dir.resolve("." + n + ".tmp"));
        }
        try (Stream<Path> rest = Files.list(dir)) {
            for (Path p : rest.toList()) {
                String n = p.getFileName().toString();
                if (n.startsWith(".") && n.endsWith(".tmp") && Files.isRegularFile(p)) {
                    Files.deleteIfExists(p); // an interrupted atomic write of vmsnap's
                }
            }
        }
        try (Stream<Path> rest = Files.list(dir)) {
            List<Path> left = rest.toList();
            if (!left.isEmpty()) {
                warnings.accept("kept " + dir + ": it holds files vmsnap did not write (" + left.getFirst()
                        .getFileName() + (left.size() > 1 ? " and " + (left.size() - 1) + " more" : "") + ")");
                return;
            }
        }
        Files.deleteIfExists(dir);
    }

    /** All defined domains, by name. */
    public List<Domain> list() throws IOException {
        List<Domain> out = new ArrayList<>();
        if (!Files.isDirectory(home)) {
            return out;
        }
        try (Stream<Path> dirs = Files.list(home)) {
            for (Path dir : dirs.sorted().toList()) {
                DomainStore store = store(dir.getFileName().toString());
                if (store.exists()) {
                    out.add(store.readDomain());
                }
            }
        }
        return out;
    }

    public Domain get(String name) throws IOException {
        return snapshots(name).domain();
    }

    // ---------------------------------------------------------------- running domains

    /** Parsed snapshot files kept between calls (a long-running serve), or null (the CLI: read every time). */
    private org.vmsnap.manager.store.SnapshotFileCache snapshotCache;

    /**
     * Keeps up to {@code maxEntries} parsed snapshot files between calls, for a long-running
     * process that reads the same trees again and again (see
     * {@link org.vmsnap.manager.store.SnapshotFileCache}); a cache set before stays.
     */
    public DomainService withSnapshotCache(int maxEntries) {
        if (snapshotCache == null) {
            this.snapshotCache = new org.vmsnap.manager.store.SnapshotFileCache(maxEntries);
        }
        return this;
    }

    /** The cache {@link #withSnapshotCache} set, or null. */
    org.vmsnap.manager.store.SnapshotFileCache snapshotCache() {
        return snapshotCache;
    }

    /**
     * Reads every domain's snapshot files into the cache (a serve that just started: its first
     * page is then as fast as the next). Takes no lock and runs no journal: it only reads, and
     * what it keeps is checked against each file's stamp when used. Damaged files are skipped
     * here (they are reported when a command reads them). Does nothing without a cache.
     */
    public void warmSnapshotCache() throws IOException {
        if (snapshotCache == null || !Files.isDirectory(home)) {
            return;
        }
        List<Path> dirs;
        try (Stream<Path> s = Files.list(home)) {
            dirs = s.sorted().toList();
        }
        for (Path dir : dirs) {
            DomainStore store = store(dir.getFileName().toString());
            if (store.exists()) {
                store.readSnapshots(new ArrayList<>());
            }
        }
    }

    private DomainStore store(String name) {
        return new DomainStore(home, name, snapshotCache);
    }

    /** How QEMU is built from a domain's XML. */
    private MachineBuilder machines = new TranslatedMachine();

    /** Replaces the machine builder (tests, and the full translation of the XML). */
    DomainService withMachines(MachineBuilder builder) {
        this.machines = builder;
        return this;
    }

    private Lifecycle lifecycle(DomainStore store) {
        return new Lifecycle(home, store, machines, warnings);
    }

    /** virsh domstate: read without the domain's lock, so it answers while another command works. */
    public DomainStatus status(String name) throws IOException {
        return lifecycle(existing(name)).observe();
    }

    private interface LifecycleOp {
        void run(Lifecycle l) throws IOException;
    }

    private void changeState(String name, LifecycleOp op) throws IOException {
        DomainStore store = existing(name);
        try (DomainLock lock = store.lock()) {
            recoverOrFail(store);
            op.run(lifecycle(store));
        }
    }

    /** virsh start [--paused]. */
    public void start(String name, boolean paused) throws IOException {
        changeState(name, l -> l.start(paused));
    }

    /** virsh start [--paused] [--force-boot]: resumes from a managed save image unless forceBoot. */
    public void start(String name, boolean paused, boolean forceBoot) throws IOException {
        changeState(name, l -> l.start(paused, forceBoot));
    }

    // ---------------------------------------------------------------- memory save and restore

    /** virsh save DOMAIN FILE [--running|--paused] [--xml]: running null keeps the guest's state. */
    public void save(String name, Path file, Boolean running, String xml) throws IOException {
        DomainStore store = existing(name);
        try (DomainLock lock = store.lock()) {
            recoverOrFail(store);
            new MemorySaves(store, lifecycle(store), warnings).save(file, running, xml);
        }
    }

    /**
     * virsh managedsave DOMAIN [--running|--paused]: the state into vmsnap's state folder.
     * Returns the image's path.
     */
    public Path managedSave(String name, Boolean running) throws IOException {
        DomainStore store = existing(name);
        try (DomainLock lock = store.lock()) {
            recoverOrFail(store);
            if (MemorySaves.hasManagedSave(store)) {
                // (only while the domain runs, which a managed save image rules out; kept for safety)
                throw new InvalidInputException("Requested operation is not valid: domain has a managed save image");
            }
            Path image = MemorySaves.managedSaveFile(store);
            new MemorySaves(store, lifecycle(store), warnings).save(image, running, null);
            return image;
        }
    }

    /** virsh managedsave-remove: false when there was none. */
    public boolean managedSaveRemove(String name) throws IOException {
        DomainStore store = existing(name);
        try (DomainLock lock = store.lock()) {
            recoverOrFail(store);
            return Files.deleteIfExists(MemorySaves.managedSaveFile(store));
        }
    }

    /** Whether the domain has a managed save image (dominfo's "Managed save", list --with-managed-save). */
    public boolean hasManagedSave(String name) throws IOException {
        return MemorySaves.hasManagedSave(existing(name));
    }

    /**
     * virsh restore FILE [--running|--paused] [--xml]: the file (vmsnap's or libvirt's) is checked
     * whole first; a domain vmsnap does not know yet is defined from the file's XML (vmsnap keeps no
     * transient domains). Returns the domain's name.
     */
    public String restore(Path file, Boolean running, String xml) throws IOException {
        SaveImage image = SaveImage.open(file);
        Domain saved = Domain.parse(image.domainXml());
        DomainStore store = store(saved.name());
        if (!store.exists()) {
            define(saved.toXml());
        }
        try (DomainLock lock = store.lock()) {
            recoverOrFail(store);
            new MemorySaves(store, lifecycle(store), warnings).restore(image, running, xml, false);
        }
        return saved.name();
    }

    /** virsh save-image-dumpxml FILE: the domain XML in a save image (checked whole first). */
    public String saveImageXml(Path file) throws IOException {
        return SaveImage.open(file).domainXml();
    }

    /**
     * virsh save-image-define FILE XML [--running|--paused]: replaces the XML in vmsnap's memory
     * file, in place (the file reserved room for it); the same domain with the same disks only.
     */
    public void saveImageDefine(Path file, String xml, Boolean running) throws IOException {
        SaveImage image = SaveImage.open(file);
        if (!(image instanceof SaveImage.Vmsnap v)) {
            throw new InvalidInputException(image.file() + ": a libvirt save image; vmsnap changes only its own"
                    + " memory files");
        }
        Domain now = Domain.parse(image.domainXml());
        Domain next = Domain.parse(xml);
        MemorySaves.checkSameDomain(next, now, "the new definition");
        org.vmsnap.qmp.MemoryFile.rewriteHeader(v.file(), running != null ? running : v.wasRunning(), next.toXml());
    }

    /** What virsh domjobinfo shows: QEMU's migration figures while a save runs (read on the status monitor). */
    public record JobInfo(String operation, long elapsedMillis, long processedBytes, long remainingBytes,
                          long totalBytes, double mibPerSecond) {
    }

    /** The running job of the domain (a save), or null; asked without the lock, which the save holds. */
    public JobInfo jobInfo(String name) throws IOException {
        DomainStore store = existing(name);
        RunRecord r = RunRecord.read(store.runtimeFile());
        if (r == null) {
            return null;
        }
        java.util.Optional<LiveQemu> q = LiveQemu.find(r);
        if (q.isEmpty()) {
            return null;
        }
        try (LiveQemu live = q.get()) {
            com.fasterxml.jackson.databind.JsonNode m = live.statusCommand("query-migrate");
            String status = m.path("status").asText("none");
            if (!List.of("setup", "active", "device", "pre-switchover").contains(status)) {
                return null;
            }
            com.fasterxml.jackson.databind.JsonNode ram = m.path("ram");
            String op = "Outgoing migration";
            Journal j = new Journal(store.journalFile());
            if (j.exists() && j.read().what().startsWith("save of")) {
                op = "Save";
            }
            return new JobInfo(op, m.path("total-time").asLong(), ram.path("transferred").asLong(),
                    ram.path("remaining").asLong(), ram.path("total").asLong(), ram.path("mbps").asDouble() / 8.388608);
        }
    }

    /** virsh shutdown [--mode acpi|agent]: asks the guest to power off and returns at once. */
    public void shutdown(String name, String mode) throws IOException {
        changeState(name, l -> l.shutdown(mode));
    }

    /** virsh reboot [--mode acpi|agent]. */
    public void reboot(String name, String mode) throws IOException {
        changeState(name, l -> l.reboot(mode));
    }

    /** virsh destroy [--graceful]. */
    public void destroy(String name, boolean graceful) throws IOException {
        changeState(name, l -> l.destroy(graceful));
    }

    /** virsh suspend. */
    public void suspend(String name) throws IOException {
        changeState(name, Lifecycle::suspend);
    }

    /**
     * virsh resume. A plan interrupted while the guest was paused may need the guest to run (a
     * thaw needs its agent): then the guest resumes first and the plan is settled right after.
     */
    public void resume(String name) throws IOException {
        DomainStore store = existing(name);
        try (DomainLock lock = store.lock()) {
            try {
                recoverOrFail(store);
            } catch (IOException waitsForTheGuest) {
                try {
                    lifecycle(store).resume();
                } catch (InvalidInputException notPaused) {
                    throw waitsForTheGuest; // resuming cannot help: the plan's own failure is the news
                }
                recoverOrFail(store);
                return;
            }
            lifecycle(store).resume();
        }
    }

    /** virsh domfsfreeze: how many filesystems the guest agent froze. */
    public int fsFreeze(String name, List<String> mountpoints) throws IOException {
        int[] n = new int[1];
        changeState(name, l -> n[0] = l.fsFreeze(mountpoints));
        return n[0];
    }

    /** virsh domfsthaw: how many filesystems the guest agent thawed. */
    public int fsThaw(String name) throws IOException {
        int[] n = new int[1];
        changeState(name, l -> n[0] = l.fsThaw());
        return n[0];
    }

    /** One row of virsh domfsinfo. */
    public record FsInfo(String mountpoint, String name, String type, String targets) {
    }

    /** virsh domfsinfo. */
    public List<FsInfo> fsInfo(String name) throws IOException {
        List<FsInfo> out = new ArrayList<>();
        changeState(name, l -> l.fsInfo().forEach(f -> out.add(new FsInfo(f.mountpoint(), f.name(), f.type(),
                String.join(",", f.targets())))));
        return out;
    }

    /**
     * vmsnap attach: defines a domain for a QEMU vmsnap did not start, from what its QMP socket
     * reports, and records it as running (never stopped by vmsnap unless asked).
     */
    public Domain attach(String name, Path qmpSocket, Path agentSocket) throws IOException {
        Names.checkDomainName(name);
        DomainStore store = store(name);
        if (store.exists()) {
            throw new InvalidInputException("operation failed: domain '" + name + "' already exists");
        }
        Attach.Found found = Attach.inspect(name, qmpSocket.toAbsolutePath());
        Domain d = Domain.parse(found.xml());
        for (Domain other : list()) {
            if (other.uuid() != null && other.uuid().equalsIgnoreCase(d.uuid())) {
                throw new InvalidInputException("domain '" + other.name() + "' already exists with uuid " + d.uuid());
            }
        }
        AtomicFiles.privateDirectories(store.dir());
        try (DomainLock lock = store.lock()) {
            RunRecord r = new RunRecord(0, store.runFolder(), qmpSocket.toAbsolutePath(),
                    agentSocket == null ? null : agentSocket.toAbsolutePath(), found.pid(), true,
                    System.currentTimeMillis(), "unknown", null, null);
            AtomicFiles.write(store.domainFile(), d.toXml());
            AtomicFiles.write(store.runtimeFile(), withId(r).encode());
        }
        return d;
    }

    /** An attached QEMU gets the next Id too. */
    private RunRecord withId(RunRecord r) throws IOException {
        int id = Lifecycle.nextId(home);
        return new RunRecord(id, r.runDir(), r.qmpSocket(), r.agentSocket(), r.pid(), r.adopted(), r.startedMillis(),
                r.runReason(), r.pauseReason(), r.stopIntent());
    }

    /**
     * What virsh dominfo shows beyond the definition; {@code messages} are its "Messages:" lines
     * (libvirt's taints of a running domain, in libvirt's order).
     */
    public record DomainInfo(Domain domain, DomainStatus status, double cpuTimeSec, long usedMemoryKiB,
                             List<String> messages) {
        public DomainInfo {
            messages = List.copyOf(messages);
        }
    }

    /** virsh dominfo. */
    public DomainInfo info(String name) throws IOException {
        DomainStore store = existing(name);
        Domain d = store.readDomain();
        DomainStatus status = lifecycle(store).observe();
        double cpu = 0;
        long used = d.currentMemoryKiB();
        List<String> messages = List.of();
        RunRecord r = RunRecord.read(store.runtimeFile());
        if (status.active() && r != null) {
            java.util.Optional<LiveQemu> q = LiveQemu.find(r);
            if (q.isPresent()) {
                try (LiveQemu live = q.get()) {
                    cpu = LiveInfo.cpuTimeSec(live.pid());
                    used = LiveInfo.balloonKiB(live).orElse(used);
                    messages = taints(d, r, LiveInfo.uid(live.pid()));
                }
            }
        }
        return new DomainInfo(d, status, cpu, used, messages);
    }

    /**
     * libvirt 9.0's taints of a running domain that apply to what vmsnap runs, in libvirt's order
     * (its enum): {@code <qemu:commandline>} arguments or environment ("custom-argv"), QEMU running
     * as root ("high-privileges": libvirtd with {@code user = "root"} taints every domain so), and a
     * QEMU vmsnap did not start ("external-launch", what libvirt says of {@code qemu-attach}).
     */
    static List<String> taints(Domain d, RunRecord r, long qemuUid) {
        List<String> out = new ArrayList<>();
        try {
            var hw = d.hardware();
            if (!hw.qemuArgs().isEmpty() || !hw.qemuEnv().isEmpty()) {
                out.add("tainted: custom configuration parameters specified");
            }
        } catch (InvalidInputException e) {
            // a definition vmsnap cannot run has no passthrough it ran
        }
        if (qemuUid == 0) {
            out.add("tainted: running with undesirable elevated privileges");
        }
        if (r.adopted()) {
            out.add("tainted: managing externally launched configuration");
        }
        return out;
    }

    /** The snapshot operations of one domain (finishes or undoes an interrupted operation first). */
    public SnapshotService snapshots(String name) throws IOException {
        DomainStore store = existing(name);
        return new SnapshotService(store, () -> System.currentTimeMillis() / 1000, warnings, lifecycle(store));
    }

    /** Finishes or undoes the plan an earlier process left; a change cannot go on when that fails. */
    private void recoverOrFail(DomainStore store) throws IOException {
        String done;
        Lifecycle lifecycle = lifecycle(store);
        try (LiveQemu q = lifecycle.probe().orElse(null)) {
            done = new PlanRunner(new Journal(store.journalFile()),
                    new LiveExecutor(new OfflineExecutor(warnings), q).withRestarts(new CheckpointRestarts(lifecycle)))
                    .recover();
        }
        if (done != null) {
            warnings.accept(done);
        }
    }

    private DomainStore existing(String name) throws IOException {
        Names.checkDomainName(name);
        DomainStore store = store(name);
        if (!store.exists()) {
            throw new NotFoundException("Domain not found: no domain with matching name '" + name + "'");
        }
        return store;
    }
}
