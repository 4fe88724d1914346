package org.vmsnap.manager;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

import org.vmsnap.manager.live.DiskLayer;
import org.vmsnap.manager.live.LiveQemu;
import org.vmsnap.manager.live.MachineBuilder;
import org.vmsnap.manager.live.RunRecord;
import org.vmsnap.manager.store.AtomicFiles;
import org.vmsnap.manager.store.DomainStore;
import org.vmsnap.manager.xml.DiskDef;
import org.vmsnap.manager.xml.Domain;
import org.vmsnap.qcow2.BlockDevice;
import org.vmsnap.qcow2.Images;
import org.vmsnap.qcow2.OpenOptions;
import org.vmsnap.qmp.GuestAgentClient;
import org.vmsnap.qmp.QemuProcess;
import org.vmsnap.qmp.QmpClient;
import org.vmsnap.qmp.QmpCommandException;
import org.vmsnap.qmp.QmpException;
import org.vmsnap.qmp.RunFolder;
import org.vmsnap.qmp.VmSpec;

/**
 * Starting and stopping a domain's QEMU, and telling its state. QEMU runs detached (it outlives
 * vmsnap, as under libvirt); what vmsnap needs to find it again is in the domain's runtime file
 * ({@link RunRecord}), written before QEMU starts. A QEMU that ended while no vmsnap watched is
 * noticed by the next command, which records why it ended (the exit status its waiting shell
 * wrote, and any stop vmsnap had asked for) in libvirt's words.
 */
final class Lifecycle {
    /** Start-up until QMP answers (TCG on 2 busy cores: seconds). */
    static final Duration START_TIMEOUT = Duration.ofSeconds(60);
    /** How long destroy waits after SIGTERM before SIGKILL (libvirt waits 10 s too). */
    static final Duration TERM_TIMEOUT = Duration.ofSeconds(10);
    /** How long to wait for QEMU to be gone after SIGKILL. */
    static final Duration KILL_TIMEOUT = Duration.ofSeconds(10);
    /** The agent answers a ping within this, or it is "not responding". */
    static final Duration AGENT_TIMEOUT = Duration.ofSeconds(5);
    /** sun_path holds 108 bytes with its NUL. */

    private final Path home;
    private final DomainStore store;
    private final MachineBuilder machines;
    private final Consumer<String> warnings;

    Lifecycle(Path home, DomainStore store, MachineBuilder machines, Consumer<String> warnings) {
        this.home = home;
        this.store = store;
        this.machines = machines;
        this.warnings = warnings;
    }

    // ---------------------------------------------------------------- state

    /**
     * The domain's QEMU if it runs. Under the domain's lock: a QEMU that ended meanwhile is
     * noticed here, its reason recorded and its run folder cleaned.
     */
    Optional<LiveQemu> probe() throws IOException {
        RunRecord r = RunRecord.read(store.runtimeFile());
        if (r == null) {
            return Optional.empty();
        }
        Optional<LiveQemu> q = LiveQemu.find(r);
        if (q.isPresent()) {
            return q;
        }
        AtomicFiles.write(store.shutoffReasonFile(), endReason(r) + "\n");
        if (!r.adopted()) {
            RunFolder run = new RunFolder(r.runDir());
            for (Path p : List.of(run.qmpSocket(), run.agentSocket(), run.pidFile(), run.exitStatus())) {
                Files.deleteIfExists(p); // the run folder is vmsnap's own; logs stay
            }
        }
        AtomicFiles.delete(store.runtimeFile());
        return Optional.empty();
    }

    /** The state without the lock and without changing anything (list, domstate, dominfo). */
    DomainStatus observe() throws IOException {
        RunRecord r = RunRecord.read(store.runtimeFile());
        if (r == null) {
            return DomainStatus.shutOff(storedReason());
        }
        Optional<LiveQemu> found = LiveQemu.find(r);
        if (found.isEmpty()) {
            return DomainStatus.shutOff(endReason(r));
        }
        try (LiveQemu q = found.get()) {
            return statusOf(q);
        }
    }

    /** The state of a running QEMU from its own run state and what vmsnap recorded. */
    static DomainStatus statusOf(LiveQemu q) {
        RunRecord r = q.record();
        String s;
        try {
            s = q.statusQuestion();
        } catch (QmpException e) {
            // QEMU does not answer now (busy, or another client holds its monitor): what vmsnap recorded
            return r.pauseReason() != null ? new DomainStatus(DomainStatus.State.PAUSED, r.pauseReason(), r.id())
                    : new DomainStatus(DomainStatus.State.RUNNING, or(r.runReason(), "unknown"), r.id());
        }
        return switch (s) {
            case "running" -> new DomainStatus(DomainStatus.State.RUNNING, or(r.runReason(), "unknown"), r.id());
            case "paused", "prelaunch" -> new DomainStatus(DomainStatus.State.PAUSED, or(r.pauseReason(), "unknown"),
                    r.id());
            case "postmigrate", "finish-migrate", "inmigrate" -> new DomainStatus(DomainStatus.State.PAUSED,
                    or(r.pauseReason(), "migrating"), r.id());
            case "io-error" -> new DomainStatus(DomainStatus.State.PAUSED, "I/O error", r.id());
            case "watchdog" -> new DomainStatus(DomainStatus.State.PAUSED, "watchdog", r.id());
            case "save-vm", "restore-vm" -> new DomainStatus(DomainStatus.State.PAUSED, "snapshot", r.id());
            case "guest-panicked" -> new DomainStatus(DomainStatus.State.CRASHED, "panicked", r.id());
            case "shutdown" -> new DomainStatus(DomainStatus.State.IN_SHUTDOWN, "user", r.id());
            case "suspended" -> new DomainStatus(DomainStatus.State.PMSUSPENDED, "unknown", r.id());
            default -> new DomainStatus(DomainStatus.State.RUNNING, "unknown", r.id());
        };
    }

    private static String or(String a, String b) {
        return a != null ? a : b;
    }

    private String storedReason() throws IOException {
        String s = AtomicFiles.readOrNull(store.shutoffReasonFile());
        return s == null || s.isBlank() ? "unknown" : s.strip();
    }

    /**
     * Why a QEMU that is gone ended: the stop vmsnap asked for; else its exit status (0 after the
     * guest powered off or after a SIGTERM, which QEMU logs; anything else a crash).
     */
    private static String endReason(RunRecord r) {
        if (r.stopIntent() != null) {
            return r.stopIntent();
        }
        if (r.adopted()) {
            return "unknown";
        }
        RunFolder run = new RunFolder(r.runDir());
        try {
            String status = AtomicFiles.readOrNull(run.exitStatus());
            if (status == null) {
                return "unknown";
            }
            if (!status.strip().equals("0")) {
                return "crashed";
            }
            String log = AtomicFiles.readOrNull(run.qemuLog());
            return log != null && log.contains("terminating on signal") ? "destroyed" : "shutdown";
        } catch (IOException e) {
            return "unknown";
        }
    }

    // ---------------------------------------------------------------- start

    /** virsh start [--paused]. */
    void start(boolean paused) throws IOException {
        start(paused, false);
    }

    /**
     * virsh start [--paused] [--force-boot]: a domain with a managed save image resumes from it
     * (and the image goes once the guest is restored), unless {@code forceBoot} discards it.
     */
    void start(boolean paused, boolean forceBoot) throws IOException {
        start(paused, forceBoot, true);
    }

    /**
     * @param settlePending false inside a plan (a checkpoint revert), which has settled the pending
     *                      deletes itself and whose journal a second plan must not replace; such a
     *                      plan decides what the guest runs, so a managed save image is neither
     *                      restored nor removed there
     */
    void start(boolean paused, boolean forceBoot, boolean settlePending) throws IOException {
        if (probe().isPresent()) {
            throw new InvalidInputException("Requested operation is not valid: domain is already running");
        }
        Path managed = MemorySaves.managedSaveFile(store);
        if (settlePending) {
            finishPendingDeletes();
        }
        if (settlePending && Files.exists(managed, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            if (!forceBoot) {
                new MemorySaves(store, this, warnings).restoreManaged(paused);
                return;
            }
            Files.delete(managed); // vmsnap's own file in its state folder
        }
        Domain d = store.readDomain();
        Map<String, List<DiskLayer>> chains = chains(d);
        RunFolder run = runFolder(d);
        VmSpec spec = machines.build(d, chains, run);
        Path agentSocket = spec.agent() == null ? null
                : spec.agent().socket() != null ? spec.agent().socket() : run.agentSocket();
        if (agentSocket != null && !agentSocket.startsWith(run.dir()) && Files.exists(agentSocket,
                java.nio.file.LinkOption.NOFOLLOW_LINKS) && !isSocket(agentSocket)) {
            // QEMU unlinks whatever is at a socket path before it binds: never a user's file.
            throw new InvalidInputException("the guest agent channel's <source path='" + agentSocket + "'> names a"
                    + " file that is not a socket; QEMU would remove it: name a free path or remove it yourself");
        }
        RunRecord record = new RunRecord(nextId(home), run.dir(), run.qmpSocket(), agentSocket, 0, false,
                System.currentTimeMillis(), "booted", paused ? "user" : null, null);
        makeNvram(spec);
        AtomicFiles.write(store.runtimeFile(), record.encode());
        QemuProcess qemu = null;
        try {
            qemu = QemuProcess.startPaused(spec, run.dir(), START_TIMEOUT);
            if (spec.memory().ballooned()) {
                // QEMU starts with the maximum; the balloon takes the guest to <currentMemory>
                qemu.qmp().execute("balloon", QmpClient.arguments().put("value", spec.memory().currentMiB() << 20),
                        LiveQemu.QMP_TIMEOUT);
            }
            if (!paused) {
                qemu.qmp().execute("cont", null, LiveQemu.QMP_TIMEOUT);
            }
            qemu.close();
        } catch (IOException | RuntimeException e) {
            if (qemu != null) {
                try {
                    qemu.kill();
                } catch (IOException ignored) {
                    // it is gone or going: the record below says the domain is off
                }
            }
            AtomicFiles.delete(store.runtimeFile());
            throw new ManagerException(qemuError(e), e);
        }
    }

    /** How long QEMU may take to load a memory stream (a few GiB under TCG: a minute). */
    static final Duration RESTORE_TIMEOUT = Duration.ofHours(1);

    /** The domain's definition as stored now (a revert's plan has changed it by the time QEMU starts). */
    Domain storedDomain() throws IOException {
        return store.readDomain();
    }

    /** The run folder QEMU of {@code d} uses (made, mode 0700). */
    Path runDir(Domain d) throws IOException {
        return runFolder(d).dir();
    }

    /**
     * Starts QEMU for {@code d} waiting for a migration stream (CPUs stopped), with the run record
     * written first, and feeds it {@code source}. A failure leaves QEMU to the caller's plan undo
     * (it kills the run folder's QEMU and removes the record).
     */
    void startIncoming(Domain d, boolean paused, org.vmsnap.qmp.MemoryStream.StreamSource source, String what)
            throws IOException {
        Map<String, List<DiskLayer>> chains = chains(d);
        RunFolder run = runFolder(d);
        VmSpec spec = machines.build(d, chains, run);
        Path agentSocket = spec.agent() == null ? null
                : spec.agent().socket() != null ? spec.agent().socket() : run.agentSocket();
        RunRecord record = new RunRecord(nextId(home), run.dir(), run.qmpSocket(), agentSocket, 0, false,
                System.currentTimeMillis(), "restored", paused ? "user" : null, null);
        makeNvram(spec);
        AtomicFiles.write(store.runtimeFile(), record.encode());
        try (QemuProcess qemu = QemuProcess.startIncoming(spec, run.dir(), START_TIMEOUT)) {
            org.vmsnap.qmp.MemoryStream.restore(qemu.qmp(), run.dir(), source, what, RESTORE_TIMEOUT);
        } catch (org.vmsnap.qmp.MemoryFile.BadMemoryFileException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            String why = lastQemuLine(run);
            throw new ManagerException(why != null ? "internal error: QEMU unexpectedly closed: " + why : qemuError(e), e);
        }
    }

    /**
     * QEMU's complaints in its log ("qemu-system-x86_64: ..."), the last three joined (a failed load
     * says what did not match, then "load of migration failed"), or null.
     */
    private static String lastQemuLine(RunFolder run) {
        try {
            String log = AtomicFiles.readOrNull(run.qemuLog());
            List<String> lines = new ArrayList<>();
            for (String line : log == null ? new String[0] : log.split("\n")) {
                if (line.startsWith("qemu-system-") && line.contains(": ")) {
                    lines.add(line.substring(line.indexOf(": ") + 2).strip());
                }
            }
            return lines.isEmpty() ? null : String.join("; ", lines.subList(Math.max(0, lines.size() - 3),
                    lines.size()));
        } catch (IOException e) {
            return null;
        }
    }

    private static boolean isSocket(Path p) throws IOException {
        int mode = (Integer) Files.getAttribute(p, "unix:mode", java.nio.file.LinkOption.NOFOLLOW_LINKS);
        return (mode & 0170000) == 0140000;
    }

    /**
     * Internal snapshots deleted while the domain ran wait in images QEMU held; while it is shut
     * off they go, with the images nothing needs any more, before QEMU holds them again.
     */
    private void finishPendingDeletes() throws IOException {
        if (store.readPending().isEmpty()) {
            return;
        }
        DomainState s = DomainState.load(store);
        PlanContext ctx = PlanContext.open(store, s, "the deletes that waited for domain " + s.domain.name()
                + " to stop");
        ctx.finishWithMetadata();
        if (!ctx.plan.isEmpty()) {
            Preflight.check(ctx);
            new org.vmsnap.manager.plan.PlanRunner(new org.vmsnap.manager.plan.Journal(store.journalFile()),
                    new org.vmsnap.manager.plan.OfflineExecutor(warnings)).run(ctx.plan);
        }
    }

    /**
     * A UEFI domain's variable store ({@code <nvram>}) is made from its template when it does not
     * exist yet, as libvirt does; an existing one is the guest's and is never replaced.
     */
    private static void makeNvram(VmSpec spec) throws IOException {
        if (spec.boot().firmware() instanceof org.vmsnap.qmp.hw.Firmware.Uefi uefi && !Files.exists(uefi.vars())) {
            if (uefi.varsTemplate() == null) {
                throw new ManagerException("UEFI variable store " + uefi.vars() + " does not exist and the domain"
                        + " names no template to make it from");
            }
            Files.createDirectories(uefi.vars().toAbsolutePath().getParent());
            Files.copy(uefi.varsTemplate(), uefi.vars()); // no REPLACE_EXISTING: never over a file
        }
    }

    /**
     * Every image of every file disk, top first, with node names numbered in order; each can be
     * opened as QEMU will open it (the top for writing unless the disk is read-only, the rest for
     * reading), so a disk another process holds is named before QEMU starts.
     */
    private Map<String, List<DiskLayer>> chains(Domain d) throws IOException {
        List<Path> tops = new ArrayList<>();
        for (DiskDef disk : d.disks()) {
            if (!Files.isRegularFile(disk.source())) {
                throw new ManagerException("Cannot access storage file '" + disk.source() + "': No such file or"
                        + " directory");
            }
            tops.add(disk.source());
        }
        ImageGraph g = ImageGraph.read(tops);
        Map<String, List<DiskLayer>> out = new LinkedHashMap<>();
        int n = 1;
        for (DiskDef disk : d.disks()) {
            List<DiskLayer> layers = new ArrayList<>();
            List<Path> chain = g.chain(disk.source().toAbsolutePath().normalize());
            for (int i = 0; i < chain.size(); i++) {
                Path p = chain.get(i);
                String format = i == 0 ? disk.format() : g.node(p).format;
                boolean write = i == 0 && !disk.readOnly() && "disk".equals(disk.device());
                try (BlockDevice dev = Images.open(p, (write ? OpenOptions.readWrite() : OpenOptions.readOnlyOpen())
                        .withFormat(format).withOpenBacking(false))) {
                    // opened as QEMU will, and closed
                } catch (IOException e) {
                    throw new ManagerException("disk " + disk.target() + ": " + e.getMessage(), e);
                }
                layers.add(DiskLayer.numbered(p, format, n++));
            }
            out.put(disk.target(), layers);
        }
        return out;
    }

    /** The run folder (mode 0700, see {@link org.vmsnap.manager.store.RunRoot}). */
    private RunFolder runFolder(Domain d) throws IOException {
        Path dir = store.runFolder();
        AtomicFiles.privateDirectories(dir);
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        return new RunFolder(dir);
    }

    /** The next domain Id (virsh's "Id"): one counter for the state folder, as libvirtd has one. */
    static int nextId(Path home) throws IOException {
        AtomicFiles.privateDirectories(home);
        Path counter = home.resolve(".next-id");
        try (FileChannel ch = FileChannel.open(home.resolve(".next-id.lock"), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE); FileLock ignored = ch.lock()) {
            String s = AtomicFiles.readOrNull(counter);
            int id = 1;
            try {
                id = s == null ? 1 : Math.max(1, Integer.parseInt(s.strip()));
            } catch (NumberFormatException e) {
                id = 1;
            }
            AtomicFiles.write(counter, (id + 1) + "\n");
            return id;
        }
    }

    /** QEMU's own complaint (its last "qemu-system-...:" line), else the exception's first line. */
    static String qemuError(Exception e) {
        String m = e.getMessage() == null ? e.toString() : e.getMessage();
        String best = null;
        for (String line : m.split("\n")) {
            if (line.startsWith("qemu-system-") && line.contains(": ")) {
                best = line.substring(line.indexOf(": ") + 2).strip();
            }
        }
        if (best != null) {
            return "internal error: QEMU unexpectedly closed: " + best;
        }
        return m.lines().findFirst().orElse(m);
    }

    // ---------------------------------------------------------------- stop, pause

    private LiveQemu running() throws IOException {
        return probe().orElseThrow(() -> new InvalidInputException(
                "Requested operation is not valid: domain is not running"));
    }

    private void record(RunRecord r) throws IOException {
        AtomicFiles.write(store.runtimeFile(), r.encode());
    }

    /** virsh destroy [--graceful]: SIGTERM (QEMU flushes and quits), then SIGKILL unless graceful. */
    void destroy(boolean graceful) throws IOException {
        try (LiveQemu q = running()) {
            record(q.record().withStopIntent("destroyed"));
            q.close();
            q.signal(false);
            if (!q.awaitExit(TERM_TIMEOUT)) {
                if (graceful) {
                    record(q.record()); // the stop did not happen
                    throw new ManagerException("Failed to terminate process " + q.pid() + " with SIGTERM: Device or"
                            + " resource busy");
                }
                q.signal(true);
                if (!q.awaitExit(KILL_TIMEOUT)) {
                    throw new ManagerException("Failed to kill process " + q.pid() + ": it is still there after "
                            + KILL_TIMEOUT.toSeconds() + " s");
                }
            }
        }
        probe();
    }

    /**
     * virsh shutdown [--mode acpi|agent]: asks the guest to power off and returns. Without a mode
     * it is libvirt's choice: the agent when it answers, else (or when the agent's request fails)
     * the ACPI power button.
     */
    void shutdown(String mode) throws IOException {
        checkMode(mode);
        try (LiveQemu q = running()) {
            record(q.record().withStopIntent("shutdown"));
            try {
                if (!agentRequest(q, mode, "powerdown")) {
                    q.qmp().execute("system_powerdown", null, LiveQemu.QMP_TIMEOUT);
                }
            } catch (IOException | RuntimeException e) {
                record(q.record()); // nothing was asked of the guest
                throw e;
            }
        }
    }

    /**
     * virsh reboot [--mode acpi|agent]: the agent reboots the guest; ACPI has QEMU keep the guest's
     * power-off paused, then resets it (libvirt's "fake reboot"), so that waits for the guest.
     * Without a mode: the agent when it answers, else ACPI.
     */
    void reboot(String mode) throws IOException {
        checkMode(mode);
        try (LiveQemu q = running()) {
            if (agentRequest(q, mode, "reboot")) {
                return;
            }
            QmpClient qmp = q.qmp();
            // While the guest powers off, QEMU pauses instead of exiting, and a reset is a reset
            // (not the shutdown that -no-reboot makes of it); both go back to the domain's own.
            qmp.execute("set-action", QmpClient.arguments().put("shutdown", "pause").put("reboot", "reset"),
                    LiveQemu.QMP_TIMEOUT);
            try (QmpClient.EventStream events = qmp.events(e -> e.name().equals("SHUTDOWN"));
                 QmpClient.EventStream resets = qmp.events(e -> e.name().equals("RESET"))) {
                qmp.execute("system_powerdown", null, LiveQemu.QMP_TIMEOUT);
                events.next(Duration.ofSeconds(120));
                qmp.execute("system_reset", null, LiveQemu.QMP_TIMEOUT);
                resets.next(LiveQemu.QMP_TIMEOUT); // the reset happens in QEMU's main loop, after the reply
                qmp.execute("cont", null, LiveQemu.QMP_TIMEOUT);
            } finally {
                qmp.execute("set-action", QmpClient.arguments().put("shutdown", "poweroff")
                        .put("reboot", restartsOnReboot() ? "reset" : "shutdown"), LiveQemu.QMP_TIMEOUT);
            }
        }
    }

    /** The domain's {@code <on_reboot>}: restart (libvirt's default) unless it says destroy. */
    private boolean restartsOnReboot() throws IOException {
        return !"destroy".equals(store.readDomain().lifecycleAction("on_reboot"));
    }

    private static void checkMode(String mode) throws InvalidInputException {
        if (mode != null && !mode.equals("acpi") && !mode.equals("agent")) {
            throw new InvalidInputException("Unknown mode " + mode + " value, expecting 'acpi' or 'agent'");
        }
    }

    /**
     * guest-shutdown with {@code guestMode} when the agent is asked for (mode agent: it must work)
     * or chosen (no mode: it answers); false when ACPI is to be used instead.
     */
    private static boolean agentRequest(LiveQemu q, String mode, String guestMode) throws IOException {
        if ("acpi".equals(mode) || mode == null && (q.record().agentSocket() == null || !agentAnswers(q))) {
            return false;
        }
        try (GuestAgentClient agent = agent(q)) {
            agent.callNoReply("guest-shutdown", QmpClient.arguments().put("mode", guestMode), Duration.ofMillis(500));
            return true;
        } catch (QmpException e) {
            if ("agent".equals(mode)) {
                throw new ManagerException("the guest agent could not " + guestMode + " the guest: " + e.getMessage(), e);
            }
            return false; // libvirt falls back to ACPI when the agent's request fails and no mode was forced
        }
    }

    /** virsh suspend: the CPUs stop (a paused domain stays paused). */
    void suspend() throws IOException {
        try (LiveQemu q = running()) {
            q.qmp().execute("stop", null, LiveQemu.QMP_TIMEOUT);
            record(q.record().withPauseReason("user"));
        }
    }

    /**
     * After a revert to a checkpoint: the domain runs or is paused "from snapshot", as libvirt says.
     * A running guest is asked whether it is frozen unless the checkpoint records that vmsnap did
     * not freeze it ({@code mayBeFrozen} false): that round trip to a guest just back from its
     * memory cost 0.1-0.17 s of every revert. A paused one is asked when it is resumed.
     */
    void recordRunState(LiveQemu q, boolean running, boolean mayBeFrozen) throws IOException {
        record(running ? q.record().withRunReason("from snapshot").withPauseReason(null)
                : q.record().withPauseReason("from snapshot"));
        if (running && mayBeFrozen) {
            thawRestored(q);
        }
    }

    /** How long a guest back from a checkpoint may take to answer whether it is frozen. */
    private static final Duration RESTORED_AGENT_TIMEOUT = Duration.ofSeconds(3);

    /**
     * A checkpoint taken with --quiesce holds the guest frozen in its memory: back from it, the
     * guest would stay frozen with no one to thaw it. Once it runs, it is thawed if it says it is
     * frozen (a paused one when it is resumed: see {@link #resume}). An agent that does not
     * answer (none runs in the guest) is left alone.
     */
    private void thawRestored(LiveQemu q) {
        try (GuestAgentClient agent = q.agent(RESTORED_AGENT_TIMEOUT)) {
            if (agent != null && agent.thawIfFrozen()) {
                warnings.accept("thawed the guest's filesystems, frozen in the checkpoint's memory (--quiesce)");
            }
        } catch (QmpException e) {
            // no agent answers: nothing vmsnap froze can be thawed through it
        }
    }

    /** virsh resume: the CPUs run again; a running domain is refused in libvirt's words. */
    void resume() throws IOException {
        try (LiveQemu q = running()) {
            String s = q.qemuStatus();
            if (s.equals("running")) {
                throw new InvalidInputException("Requested operation is not valid: domain is already running");
            }
            if (s.equals("paused") || s.equals("prelaunch") || s.equals("postmigrate")) {
                // postmigrate: after an external checkpoint of a paused guest (cont reactivates its images)
                q.qmp().execute("cont", null, LiveQemu.QMP_TIMEOUT);
                boolean fromCheckpoint = "from snapshot".equals(q.record().pauseReason());
                record(q.record().withRunReason("unpaused").withPauseReason(null));
                if (fromCheckpoint) {
                    thawRestored(q);
                }
            }
        }
    }

    // ---------------------------------------------------------------- guest agent

    /**
     * A connection to the agent that has answered a ping, or libvirt's refusal in libvirt's order
     * (qemuDomainAgentAvailable): "domain is not running" when the guest's CPUs do not run (paused:
     * no agent answers), then "not configured" without an agent channel, then "not connected"
     * when nothing answers in the guest.
     */
    static GuestAgentClient agent(LiveQemu q) throws ManagerException {
        String status;
        try {
            status = q.qemuStatus();
        } catch (QmpException e) {
            status = "running"; // QEMU busy: the agent's own answer decides below
        }
        if (!status.equals("running")) {
            throw new InvalidInputException("Requested operation is not valid: domain is not running");
        }
        if (q.record().agentSocket() == null) {
            throw new ManagerException("argument unsupported: QEMU guest agent is not configured");
        }
        try {
            GuestAgentClient agent = q.agent(AGENT_TIMEOUT);
            agent.ping();
            return agent;
        } catch (QmpException e) {
            throw new ManagerException("Guest agent is not responding: QEMU guest agent is not connected", e);
        }
    }

    /** virsh domfsfreeze [--mountpoint ...]: returns how many filesystems froze. */
    int fsFreeze(List<String> mountpoints) throws IOException {
        try (LiveQemu q = running(); GuestAgentClient agent = agent(q)) {
            return mountpoints.isEmpty() ? agent.fsfreezeFreeze() : agent.fsfreezeFreezeList(mountpoints);
        } catch (QmpCommandException e) {
            throw agentRefused(e);
        }
    }

    /** virsh domfsthaw: returns how many filesystems thawed. */
    int fsThaw() throws IOException {
        try (LiveQemu q = running(); GuestAgentClient agent = agent(q)) {
            return agent.fsfreezeThaw();
        } catch (QmpCommandException e) {
            throw agentRefused(e);
        }
    }

    /** An agent command's error as libvirt words it (qemuAgentCheckError). */
    static ManagerException agentRefused(QmpCommandException e) {
        return new ManagerException("internal error: unable to execute QEMU agent command '" + e.command() + "': "
                + e.description(), e);
    }

    /** One mounted filesystem of the guest (virsh domfsinfo): the disks' targets it lies on. */
    record FsInfo(String mountpoint, String name, String type, List<String> targets) {
    }

    /** virsh domfsinfo: the guest's filesystems, each with the domain's disks under it. */
    List<FsInfo> fsInfo() throws IOException {
        Domain d = store.readDomain();
        try (LiveQemu q = running(); GuestAgentClient agent = agent(q)) {
            List<FsInfo> out = new ArrayList<>();
            com.fasterxml.jackson.databind.JsonNode all;
            try {
                all = agent.call("guest-get-fsinfo", null);
            } catch (QmpCommandException e) {
                throw agentRefused(e);
            }
            // The agent lists the newest mount first; libvirt reverses it to mount order.
            for (int i = all.size() - 1; i >= 0; i--) {
                com.fasterxml.jackson.databind.JsonNode fs = all.get(i);
                List<String> targets = new ArrayList<>();
                for (com.fasterxml.jackson.databind.JsonNode disk : fs.path("disk")) {
                    String dev = disk.path("dev").asText("");
                    String base = dev.substring(dev.lastIndexOf('/') + 1);
                    // The guest names virtio disks as the XML's targets (vda, vdb, ...) in bus order.
                    if (d.disk(base).isPresent() && !targets.contains(base)) {
                        targets.add(base);
                    }
                }
                out.add(new FsInfo(fs.path("mountpoint").asText(), fs.path("name").asText(), fs.path("type").asText(),
                        targets));
            }
            return out;
        }
    }

    private static boolean agentAnswers(LiveQemu q) {
        try (GuestAgentClient a = agent(q)) {
            return true;
        } catch (ManagerException e) {
            return false;
        }
    }
}
