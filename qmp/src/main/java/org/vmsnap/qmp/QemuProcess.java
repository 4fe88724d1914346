package org.vmsnap.qmp;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A {@code qemu-system-x86_64} process running one VM, and the QMP connection to it.
 *
 * <p>QEMU runs detached: it is started through {@code setsid} in its own session, with
 * its input from /dev/null and its output in a log file, so it outlives the vmsnap process
 * that started it, and a later one finds it again through the pid file in the run folder
 * ({@link #attach}). It is not started with {@code -daemonize}: a daemonized QEMU 7.2
 * failed migrations to {@code exec:} here, and the pid file does the daemon's job.
 *
 * <p>{@link #close()} only disconnects; QEMU keeps running. {@link #stop} and
 * {@link #kill} end it.
 */
public final class QemuProcess implements AutoCloseable {

    /** How QEMU ended in {@link #stop}. */
    public enum Stopped { ALREADY_EXITED, POWERED_OFF, QUIT, KILLED }

    private static final Duration QUIT_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration KILL_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(30);

    private final RunFolder run;
    private final long pid;
    private final ProcessHandle handle;
    private final Process child; // null when attached: then we cannot reap, only watch
    private final QmpClient qmp;

    private QemuProcess(RunFolder run, long pid, ProcessHandle handle, Process child, QmpClient qmp) {
        this.run = run;
        this.pid = pid;
        this.handle = handle;
        this.child = child;
        this.qmp = qmp;
    }

    /** Starts QEMU for {@code spec} with its files in {@code runDir}, and connects to QMP. */
    public static QemuProcess start(VmSpec spec, Path runDir, Duration timeout) throws IOException {
        return launch(spec, runDir, false, false, timeout);
    }

    /** Starts QEMU with its CPUs stopped ({@code -S}): the guest runs after {@code cont}. */
    public static QemuProcess startPaused(VmSpec spec, Path runDir, Duration timeout) throws IOException {
        return launch(spec, runDir, false, true, timeout);
    }

    /**
     * Starts QEMU waiting for an incoming migration stream ({@code -incoming defer}, CPUs
     * stopped): feed it with {@link MemoryStream#restore}, then {@code cont}.
     */
    public static QemuProcess startIncoming(VmSpec spec, Path runDir, Duration timeout) throws IOException {
        return launch(spec, runDir, true, true, timeout);
    }

    /** The command line {@link #start} runs for {@code spec} (after {@code setsid}). */
    public static List<String> commandLine(VmSpec spec, Path runDir, boolean incoming) {
        Path qemu = qemuBinary();
        return QemuCommandLine.build(qemu, spec, new RunFolder(runDir), QemuCommandLine.useKvm(qemu, spec.accel()), incoming);
    }

    private static QemuProcess launch(VmSpec spec, Path runDir, boolean incoming, boolean paused, Duration timeout)
            throws IOException {
        RunFolder run = new RunFolder(runDir);
        Files.createDirectories(run.dir());
        if (Files.exists(run.pidFile())) {
            Optional<ProcessHandle> running = runningQemu(run);
            if (running.isPresent()) {
                throw new QemuProcessException("a QEMU (pid " + running.get().pid() + ") already runs in " + run.dir());
            }
        }
        // Left-overs of a QEMU that is gone: QEMU would fail to bind a stale socket path.
        for (Path stale : List.of(run.pidFile(), run.qmpSocket(), run.agentSocket(), run.statusSocket(),
                run.exitStatus())) {
            Files.deleteIfExists(stale);
        }
        List<String> command = new ArrayList<>();
        // A shell in a session of its own waits for QEMU and writes its exit status: QEMU outlives
        // vmsnap, and a later command still learns whether it crashed (the shell also reaps it at
        // once; an orphan reaped by PID 1 lingers here for seconds).
        command.addAll(List.of("setsid", "sh", "-c", "\"$@\"; s=$?; echo $s >\"$0\"; exit $s", run.exitStatus().toString()));
        command.addAll(commandLine(spec, runDir, incoming));
        if (paused && !incoming) {
            command.add("-S"); // the CPUs wait for "cont": vmsnap is connected before the guest runs
        }
        command.addAll(List.of("-chardev", "socket,id=qmp-status,path=" + QemuCommandLine.escape(run.statusSocket())
                + ",server=on,wait=off", "-mon", "chardev=qmp-status,mode=control"));
        Files.writeString(run.qemuLog(), "# " + String.join(" ", command) + "\n", StandardCharsets.UTF_8,
                java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
        ProcessBuilder builder = new ProcessBuilder(command);
        builder.environment().putAll(spec.env()); // <qemu:env>: QEMU's own environment
        Process process = builder
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.appendTo(run.qemuLog().toFile()))
                .redirectErrorStream(true)
                .start();
        long deadline = System.nanoTime() + timeout.toNanos();
        try {
            long pid = waitForPidAndSocket(run, process, deadline);
            QmpClient qmp = connectWhileStarting(run, process, deadline);
            // The pid file names QEMU, the shell's child; the JVM reaps the shell (our child) itself.
            Process child = process.pid() == pid ? process : null;
            ProcessHandle handle = ProcessHandle.of(pid).orElseThrow(() -> new QemuProcessException("QEMU exited right after start"));
            return new QemuProcess(run, pid, handle, child, qmp);
        } catch (IOException | RuntimeException e) {
            boolean exited = !process.isAlive();
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
            Uninterruptibly.waitFor(process);
            if (e instanceof QemuProcessException q) {
                throw q;
            }
            if (exited) {
                throw new QemuProcessException("QEMU exited with status " + process.exitValue() + " during start-up in "
                        + run.dir() + logTail(run), e);
            }
            throw new QemuProcessException("QEMU did not start in " + run.dir() + ": " + e.getMessage() + logTail(run), e);
        }
    }

    /**
     * QEMU binds its QMP socket before it listens on it: a connect in between is refused.
     * So a refusal is retried while QEMU lives and time is left.
     */
    private static QmpClient connectWhileStarting(RunFolder run, Process process, long deadline) throws IOException {
        while (true) {
            try {
                return QmpClient.connect(run.qmpSocket(), remaining(deadline));
            } catch (QmpConnectException e) {
                if (!process.isAlive() || System.nanoTime() - deadline > 0
                        || !(e.getCause() instanceof java.net.ConnectException)) {
                    throw e;
                }
                sleep(20);
            }
        }
    }

    private static long waitForPidAndSocket(RunFolder run, Process process, long deadline) throws IOException {
        while (true) {
            if (!process.isAlive()) {
                throw new QemuProcessException("QEMU exited with status " + process.exitValue() + " during start-up in "
                        + run.dir() + logTail(run));
            }
            Optional<Long> pid = readPid(run.pidFile());
            if (pid.isPresent() && Files.exists(run.qmpSocket())) {
                return pid.get();
            }
            if (System.nanoTime() - deadline > 0) {
                throw new QemuProcessException("QEMU wrote no pid file and QMP socket in " + run.dir() + " in time" + logTail(run));
            }
            sleep(20);
        }
    }

    /**
     * Finds the QEMU that runs in {@code runDir} (started by this or an earlier vmsnap
     * process) and connects to its QMP socket.
     *
     * @throws QemuProcessException when there is no pid file, its process is gone, or it is
     *                              not this run folder's QEMU (a reused pid): then nothing
     *                              is touched
     */
    public static QemuProcess attach(Path runDir, Duration timeout) throws IOException {
        RunFolder run = new RunFolder(runDir);
        if (!Files.exists(run.pidFile())) {
            throw new QemuProcessException("no QEMU runs in " + run.dir() + ": no pid file " + run.pidFile());
        }
        ProcessHandle handle = runningQemu(run).orElseThrow();
        QmpClient qmp = QmpClient.connect(run.qmpSocket(), timeout);
        return new QemuProcess(run, handle.pid(), handle, null, qmp);
    }

    /**
     * The pid of the QEMU that runs in {@code runDir}: its pid file names a live
     * {@code qemu-system-*} process whose {@code -pidfile} is that file. Empty when there is no
     * pid file or it is stale (the process is gone, or the pid was reused by another program).
     */
    public static java.util.OptionalLong runningPid(Path runDir) {
        try {
            return java.util.OptionalLong.of(runningQemu(new RunFolder(runDir)).orElseThrow().pid());
        } catch (QemuProcessException | java.util.NoSuchElementException e) {
            return java.util.OptionalLong.empty();
        }
    }

    /**
     * A live QEMU whose {@code -pidfile} is the pid file of {@code runDir}, found through /proc: a
     * QEMU that is still starting up (it writes the pid file only after parsing its options).
     */
    public static java.util.OptionalLong startingPid(Path runDir) {
        Path pidFile = new RunFolder(runDir).pidFile();
        return ProcessHandle.allProcesses().filter(ProcessHandle::isAlive).mapToLong(ProcessHandle::pid)
                .filter(pid -> {
                    List<String> argv = commandLineOf(pid);
                    int flag = argv.indexOf("-pidfile");
                    return binaryOf(argv).startsWith("qemu-system-")
                            && flag >= 0 && flag + 1 < argv.size() && Path.of(argv.get(flag + 1)).toAbsolutePath()
                            .equals(pidFile);
                }).findFirst();
    }

    /** Whether {@code pid} is a live {@code qemu-system-*} process (for a QEMU vmsnap did not start). */
    public static boolean isLiveQemu(long pid) {
        if (ProcessHandle.of(pid).filter(ProcessHandle::isAlive).isEmpty()) {
            return false;
        }
        List<String> argv = commandLineOf(pid);
        return binaryOf(argv).startsWith("qemu-system-");
    }

    /**
     * The file name of a command line's program; "" for none. Any process of the machine is
     * looked at, and one may name itself "/" (no file name: {@code getFileName()} is null).
     */
    static String binaryOf(List<String> argv) {
        if (argv.isEmpty()) {
            return "";
        }
        Path name = Path.of(argv.getFirst()).getFileName();
        return name == null ? "" : name.toString();
    }

    /** The command line of a process, from /proc (empty when it is gone). */
    public static List<String> commandLine(long pid) {
        return commandLineOf(pid);
    }

    /**
     * The process the pid file names, if it is alive and is the QEMU of this run folder:
     * a {@code qemu-system-*} binary whose {@code -pidfile} argument is this pid file.
     */
    private static Optional<ProcessHandle> runningQemu(RunFolder run) throws QemuProcessException {
        long pid = readPid(run.pidFile()).orElseThrow(
                () -> new QemuProcessException("pid file " + run.pidFile() + " does not hold a process id"));
        Optional<ProcessHandle> handle = ProcessHandle.of(pid).filter(ProcessHandle::isAlive);
        if (handle.isEmpty()) {
            throw new QemuProcessException("stale pid file " + run.pidFile() + ": process " + pid + " is not running");
        }
        List<String> argv = commandLineOf(pid);
        String binary = argv.isEmpty() ? "(unknown)" : binaryOf(argv);
        if (!binary.startsWith("qemu-system-")) {
            throw new QemuProcessException("pid file " + run.pidFile() + " names process " + pid + " (" + binary
                    + "), which is not QEMU; refusing to touch it");
        }
        int flag = argv.indexOf("-pidfile");
        if (flag < 0 || flag + 1 >= argv.size()
                || !Path.of(argv.get(flag + 1)).toAbsolutePath().equals(run.pidFile())) {
            throw new QemuProcessException("pid file " + run.pidFile() + " names process " + pid
                    + ", a QEMU of another run folder; refusing to touch it");
        }
        return handle;
    }

    private static List<String> commandLineOf(long pid) {
        try {
            byte[] raw = Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline"));
            String text = new String(raw, StandardCharsets.UTF_8);
            return Arrays.stream(text.split("\0")).filter(s -> !s.isEmpty()).toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    private static Optional<Long> readPid(Path pidFile) {
        try {
            String text = Files.readString(pidFile, StandardCharsets.UTF_8).strip();
            return text.matches("[1-9][0-9]{0,9}") ? Optional.of(Long.parseLong(text)) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty(); // missing or unreadable: no pid to trust
        }
    }

    public long pid() {
        return pid;
    }

    public RunFolder runFolder() {
        return run;
    }

    /** The QMP connection; closed by {@link #close}, {@link #stop} and {@link #kill}. */
    public QmpClient qmp() {
        return qmp;
    }

    public boolean isAlive() {
        return handle.isAlive();
    }

    /** Connects to the guest agent (each call makes a new connection; close it). */
    public GuestAgentClient connectAgent(Duration timeout) throws QmpException {
        return GuestAgentClient.connect(run.agentSocket(), timeout);
    }

    /**
     * Stops QEMU: asks the guest to power off ({@code system_powerdown}, the ACPI power
     * button) and waits up to {@code powerdownTimeout}; then {@code quit}; then SIGKILL.
     * Returns how it ended. The QMP connection is closed afterwards.
     */
    public Stopped stop(Duration powerdownTimeout) throws IOException {
        try {
            if (!isAlive()) {
                return Stopped.ALREADY_EXITED;
            }
            try {
                qmp.execute("system_powerdown", null, COMMAND_TIMEOUT);
                if (waitForExit(powerdownTimeout)) {
                    return Stopped.POWERED_OFF;
                }
                qmp.execute("quit", null, COMMAND_TIMEOUT);
            } catch (QmpDisconnectedException e) {
                // QEMU went away while we talked to it: that is what we wanted
            } catch (QmpException e) {
                // QMP is not usable (hung, timed out): fall through to the kill below
            }
            if (waitForExit(QUIT_TIMEOUT)) {
                return Stopped.QUIT;
            }
            kill();
            return Stopped.KILLED;
        } finally {
            qmp.close();
        }
    }

    /**
     * Ends QEMU at once with {@code quit} (no guest shutdown: right for a VM that is paused
     * or whose state was just saved), SIGKILL if it does not exit in time. The QMP
     * connection is closed afterwards.
     */
    public Stopped quit() throws IOException {
        try {
            if (!isAlive()) {
                return Stopped.ALREADY_EXITED;
            }
            try {
                qmp.execute("quit", null, COMMAND_TIMEOUT);
            } catch (QmpException e) {
                // disconnected (it is quitting) or unusable: the wait below decides
            }
            if (waitForExit(QUIT_TIMEOUT)) {
                return Stopped.QUIT;
            }
            kill();
            return Stopped.KILLED;
        } finally {
            qmp.close();
        }
    }

    /** Kills QEMU with SIGKILL and waits for it to be gone. */
    public void kill() throws QemuProcessException {
        qmp.close();
        handle.destroyForcibly();
        if (!waitForExit(KILL_TIMEOUT)) {
            throw new QemuProcessException("QEMU (pid " + pid + ") did not die within " + KILL_TIMEOUT);
        }
        try {
            Files.deleteIfExists(run.pidFile());
        } catch (IOException ignored) {
            // a stale pid file is recognised as stale later
        }
    }

    /**
     * Waits for QEMU to exit. A child of this JVM is reaped; an attached QEMU is only
     * watched (its parent, or PID 1, reaps it).
     */
    public boolean waitForExit(Duration timeout) {
        try {
            if (child != null) {
                return child.waitFor(timeout.toNanos(), TimeUnit.NANOSECONDS);
            }
            handle.onExit().get(timeout.toNanos(), TimeUnit.NANOSECONDS);
            return true;
        } catch (TimeoutException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return !handle.isAlive();
        } catch (ExecutionException e) {
            return !handle.isAlive();
        }
    }

    /** Disconnects from QMP; QEMU keeps running. */
    @Override
    public void close() {
        qmp.close();
    }

    private static String logTail(RunFolder run) {
        try {
            List<String> lines = Files.readAllLines(run.qemuLog(), StandardCharsets.UTF_8);
            List<String> tail = lines.subList(Math.max(0, lines.size() - 10), lines.size());
            return "\n--- " + run.qemuLog() + " (end) ---\n" + String.join("\n", tail);
        } catch (IOException e) {
            return "";
        }
    }

    /** Whether {@link VmSpec.Accel#AUTO} picks KVM on this machine (see {@link KvmProbe}). */
    public static boolean kvmUsable() {
        return KvmProbe.usable(qemuBinary());
    }

    private static Path qemuBinary() {
        String path = System.getenv("PATH");
        if (path != null) {
            for (String dir : path.split(File.pathSeparator)) {
                Path candidate = Path.of(dir.isEmpty() ? "." : dir, "qemu-system-x86_64");
                if (Files.isExecutable(candidate)) {
                    return candidate;
                }
            }
        }
        throw new IllegalStateException("qemu-system-x86_64 not found on PATH (Debian: apt-get install qemu-system-x86)");
    }

    private static Duration remaining(long deadline) {
        return Duration.ofNanos(Math.max(1, deadline - System.nanoTime()));
    }

    private static void sleep(long millis) throws QemuProcessException {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new QemuProcessException("interrupted while waiting for QEMU");
        }
    }
}
