package org.vmsnap.testkit;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A private libvirt 9.0 (Debian's {@code libvirtd}, QEMU driver) to compare vmsnap with, on
 * the same guest ({@link TestGuest#domainXml}).
 *
 * <p><b>How it is private.</b> libvirtd run as root is always the {@code qemu:///system}
 * daemon, and its QEMU driver has {@code /etc/libvirt}, {@code /run/libvirt},
 * {@code /var/lib/libvirt}, {@code /var/log/libvirt} and {@code /var/cache/libvirt} compiled
 * in: {@code --config} moves only libvirtd.conf, no environment variable moves the driver's
 * folders, and session mode is for non-root users only (whose QEMU could not open the root-owned
 * test images). So libvirtd runs in namespaces of its own ({@code unshare --mount --pid}, the
 * script {@code libvirt/private-libvirtd.sh}): a fresh tmpfs on {@code /run} (the host's D-Bus,
 * so no systemd-machined registration whose machine names two daemons would share, and no
 * system libvirtd's sockets), and the folders {@code etc}, {@code run}, {@code lib}, {@code log},
 * {@code cache} of the work folder bind-mounted over those five paths. The mounts exist only
 * inside the namespace, so the host's folders are neither read nor changed (they must exist as
 * mount points: libvirt-daemon-system makes them), and two instances, or an instance and a
 * system libvirtd, never meet. virsh runs outside and reaches the daemon through the socket in
 * the private run folder ({@code qemu:///system?socket=WORK/run/libvirt-sock}); inside, the
 * paths libvirt builds stay short ({@code /var/lib/libvirt/qemu/channel/...}) whatever the work
 * folder.
 *
 * <p>The configuration is QEMU-NOTES.md's (QEMU as root under TCG: user/group root, no security
 * driver, no ownership changes, no cgroups, no per-domain namespaces), plus
 * {@code stdio_handler = "file"}: QEMU's log goes straight to {@code WORK/log/qemu/NAME.log},
 * so no virtlogd is needed, and the default lock manager (none) needs no virtlockd. Only
 * libvirtd runs.
 *
 * <p><b>No process outlives it.</b> The script is PID 1 of the namespace's PID namespace and
 * every QEMU libvirtd starts lives there; when the script ends the kernel kills all of them.
 * It ends when {@link #close()} closes its standard input (after destroying the running
 * domains through virsh and stopping libvirtd), when the test's JVM dies (its end of the pipe
 * closes), or when libvirtd dies. {@link #close()} then checks that no process of the namespace
 * is left.
 *
 * <p>Nothing is skipped: when it cannot start (not root, a package missing, libvirtd refusing its
 * configuration) {@link #start} throws an AssertionError that says why, with the ends of the logs.
 */
public final class Libvirt implements AutoCloseable {

    /** How long virsh may take by default: generous for 2 shared cores under TCG. */
    public static final Duration VIRSH_TIMEOUT = Duration.ofMinutes(2);

    private static final Duration START_TIMEOUT = Duration.ofSeconds(90);
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(30);
    private static final Path LIBVIRTD = Path.of("/usr/sbin/libvirtd");
    /** sun_path holds 108 bytes including the terminating NUL. */
    private static final int MAX_SOCKET_PATH_BYTES = 107;
    private static final String SCRIPT = "libvirt/private-libvirtd.sh";

    private static final String LIBVIRTD_CONF = """
            # Private libvirtd of a vmsnap test (org.vmsnap.testkit.Libvirt): root-only sockets
            # without authentication (no polkit: it is out of reach), no TCP or TLS listener.
            unix_sock_ro_perms = "0700"
            unix_sock_rw_perms = "0700"
            unix_sock_admin_perms = "0700"
            auth_unix_ro = "none"
            auth_unix_rw = "none"
            log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
            """;

    private static final String QEMU_CONF = """
            # QEMU as root under TCG, unconfined (QEMU-NOTES.md: how libvirtd runs on these machines).
            user = "root"
            group = "root"
            security_driver = "none"
            dynamic_ownership = 0
            remember_owner = 0
            cgroup_controllers = [ ]
            namespaces = [ ]
            # QEMU's output straight to /var/log/libvirt/qemu/NAME.log: no virtlogd to run.
            stdio_handler = "file"
            """;

    private final Path workDir;
    private final Process namespace;
    private final String pidNamespace;
    private final String uri;
    private final FileChannel lockFile;
    private boolean closed;

    private Libvirt(Path workDir, Process namespace, String pidNamespace, String uri, FileChannel lockFile) {
        this.workDir = workDir;
        this.namespace = namespace;
        this.pidNamespace = pidNamespace;
        this.uri = uri;
        this.lockFile = lockFile;
    }

    /**
     * Starts a private libvirtd whose configuration, state, run and log folders are under
     * {@code workDir}, and waits until it answers.
     *
     * @throws AssertionError saying why when it cannot
     */
    public static Libvirt start(Path workDir) {
        return start(workDir, "");
    }

    /** {@link #start(Path)} with lines appended to qemu.conf (tests: a configuration libvirtd refuses). */
    public static Libvirt start(Path workDir, String extraQemuConf) {
        requireRoot();
        QemuTools.find("unshare", "util-linux");
        Path virsh = QemuTools.find("virsh", "libvirt-clients");
        if (!Files.isExecutable(LIBVIRTD)) {
            throw new AssertionError(LIBVIRTD + " not found: install the Debian package libvirt-daemon-system");
        }
        Path work = workDir.toAbsolutePath().normalize();
        Path socket = work.resolve("run/libvirt-sock");
        String socketText = socket.toString();
        if (socketText.getBytes(StandardCharsets.UTF_8).length > MAX_SOCKET_PATH_BYTES
                || !socketText.matches("[A-Za-z0-9/._+-]+")) {
            throw new AssertionError("libvirt's socket " + socket + " needs a work folder whose path is short (at most "
                    + MAX_SOCKET_PATH_BYTES + " bytes with run/libvirt-sock) and plain (letters, digits, / . _ + -)");
        }
        for (String hidden : List.of("/run", "/var/run", "/etc/libvirt", "/var/lib/libvirt", "/var/log/libvirt",
                "/var/cache/libvirt")) {
            if (work.startsWith(hidden)) {
                throw new AssertionError("the work folder " + work + " lies under " + hidden
                        + ", which the private libvirtd's namespace covers; use another folder");
            }
        }
        FileChannel lock = lock(work);
        Process process = null;
        try {
            prepare(work, extraQemuConf);
            Path out = work.resolve("log/private-libvirtd.out");
            List<String> command = List.of("unshare", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc",
                    "--propagation", "private", "bash", "-c", script(), "private-libvirtd", work.toString());
            process = new ProcessBuilder(command)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(out.toFile()))
                    .redirectErrorStream(true)
                    .start();
            String uri = "qemu:///system?socket=" + socketText;
            awaitAnswer(process, virsh, uri, socket, work);
            String pidNamespace = pidNamespaceOf(process);
            return new Libvirt(work, process, pidNamespace, uri, lock);
        } catch (IOException e) {
            abandon(process, lock);
            throw new UncheckedIOException("cannot start a private libvirtd in " + work, e);
        } catch (RuntimeException | Error e) {
            abandon(process, lock);
            throw e;
        }
    }

    /** What {@code virsh -c} takes: {@code qemu:///system?socket=WORK/run/libvirt-sock}. */
    public String uri() {
        return uri;
    }

    public Path workDir() {
        return workDir;
    }

    /** libvirtd's own log (warnings and errors). */
    public Path logFile() {
        return workDir.resolve("log/libvirtd.log");
    }

    /** QEMU's command line and output for domain {@code name}, as libvirt logs them. */
    public Path qemuLog(String name) {
        return workDir.resolve("log/qemu").resolve(name + ".log");
    }

    /** {@code virsh -c uri args...} with {@link #VIRSH_TIMEOUT}, whatever its exit code. */
    public QemuTools.Result virsh(String... args) {
        requireOpen();
        return run(args);
    }

    private QemuTools.Result run(String... args) {
        List<String> command = new ArrayList<>(List.of(QemuTools.find("virsh", "libvirt-clients").toString(), "-c", uri));
        command.addAll(List.of(args));
        return QemuTools.run(command, VIRSH_TIMEOUT);
    }

    /**
     * {@link #virsh}, failing with virsh's output and the end of libvirtd's log when it exits
     * non-zero.
     */
    public QemuTools.Result virshOk(String... args) {
        QemuTools.Result result = virsh(args);
        if (result.exitCode() != 0) {
            throw new AssertionError(result.describe("exited with " + result.exitCode())
                    + "\n--- " + logFile() + " (end) ---\n" + tail(logFile(), 20));
        }
        return result;
    }

    /** The live processes of this instance's namespace: libvirtd, the QEMUs it started, and the script. */
    public List<ProcessHandle> processes() {
        List<ProcessHandle> found = new ArrayList<>();
        try (Stream<Path> entries = Files.list(Path.of("/proc"))) {
            entries.filter(p -> p.getFileName().toString().matches("[0-9]+")).forEach(p -> {
                try {
                    if (Files.readSymbolicLink(p.resolve("ns/pid")).toString().equals(pidNamespace)) {
                        ProcessHandle.of(Long.parseLong(p.getFileName().toString())).ifPresent(found::add);
                    }
                } catch (IOException | UnsupportedOperationException ignored) {
                    // ended meanwhile, or a zombie: not a live process
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list /proc", e);
        }
        return found;
    }

    /**
     * Destroys the running domains, stops libvirtd, ends the namespace, and checks that none
     * of its processes is left (an AssertionError names them otherwise).
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (namespace.isAlive()) {
                destroyRunningDomains();
            }
            endNamespace(namespace);
            awaitNoProcesses();
        } finally {
            closeQuietly(lockFile);
        }
    }

    private void destroyRunningDomains() {
        QemuTools.Result list = run("list", "--name");
        if (list.exitCode() != 0) {
            return; // libvirtd is not answering: ending the namespace kills its QEMUs all the same
        }
        for (String name : list.stdout().lines().map(String::strip).filter(s -> !s.isEmpty()).toList()) {
            run("destroy", name);
        }
    }

    private void awaitNoProcesses() {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        List<ProcessHandle> left = processes();
        while (!left.isEmpty() && System.nanoTime() - deadline < 0) {
            sleep(50);
            left = processes();
        }
        if (!left.isEmpty()) {
            throw new AssertionError("the private libvirt in " + workDir + " left processes behind: "
                    + left.stream().map(p -> p.pid() + " " + p.info().commandLine().orElse("?")).toList());
        }
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("the private libvirt in " + workDir + " is closed");
        }
    }

    private static void abandon(Process process, FileChannel lock) {
        if (process != null) {
            endNamespace(process);
        }
        closeQuietly(lock);
    }

    /** Closes the script's stdin (it stops libvirtd and leaves), then kills the namespace if it lingers. */
    private static void endNamespace(Process process) {
        try {
            process.getOutputStream().close();
        } catch (IOException ignored) {
            // already closed: the kill below still ends it
        }
        try {
            if (!process.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly(); // unshare --kill-child: its child, PID 1 of the namespace, dies too
                process.waitFor();
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Waits until virsh gets an answer: libvirtd accepts connections only once its drivers
     * are initialised. Fails at once when the namespace ends (libvirtd refused to start).
     */
    private static void awaitAnswer(Process process, Path virsh, String uri, Path socket, Path work) {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        QemuTools.Result last = null;
        while (true) {
            if (!process.isAlive()) {
                throw new AssertionError("the private libvirtd in " + work + " ended during start-up (exit "
                        + process.exitValue() + ")" + logs(work));
            }
            if (Files.exists(socket)) {
                last = QemuTools.run(List.of(virsh.toString(), "-c", uri, "uri"), Duration.ofSeconds(30));
                if (last.exitCode() == 0) {
                    return;
                }
            }
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("the private libvirtd in " + work + " did not answer within " + START_TIMEOUT
                        + (last == null ? " (no socket " + socket + ")" : "\n" + last.describe("failed")) + logs(work));
            }
            sleep(50);
        }
    }

    /** The pid namespace of the script (unshare's child), as /proc shows it: "pid:[inode]". */
    private static String pidNamespaceOf(Process process) throws IOException {
        ProcessHandle child = process.toHandle().children().findFirst()
                .orElseThrow(() -> new AssertionError("unshare has no child: the private libvirtd is gone"));
        return Files.readSymbolicLink(Path.of("/proc", Long.toString(child.pid()), "ns/pid")).toString();
    }

    private static void prepare(Path work, String extraQemuConf) throws IOException {
        for (String dir : List.of("etc", "lib", "log", "cache")) {
            Files.createDirectories(work.resolve(dir));
        }
        // Run state is what a reboot clears: a fresh folder, like the tmpfs /run of a real host.
        Path run = work.resolve("run");
        if (Files.exists(run)) {
            try (Stream<Path> tree = Files.walk(run)) {
                for (Path p : tree.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
        Files.createDirectories(run);
        Files.writeString(work.resolve("etc/libvirtd.conf"), LIBVIRTD_CONF);
        Files.writeString(work.resolve("etc/qemu.conf"), QEMU_CONF + extraQemuConf);
    }

    private static FileChannel lock(Path work) {
        try {
            Files.createDirectories(work);
            FileChannel channel = FileChannel.open(work.resolve("libvirt.lock"), StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = channel.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null; // this JVM holds it
            }
            if (lock == null) {
                channel.close();
                throw new AssertionError("another private libvirt runs in " + work);
            }
            return channel;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot lock " + work, e);
        }
    }

    private static void requireRoot() {
        try {
            String uid = Files.readAllLines(Path.of("/proc/self/status")).stream()
                    .filter(l -> l.startsWith("Uid:")).findFirst().orElse("Uid: ?").split("\\s+")[1];
            if (!uid.equals("0")) {
                throw new AssertionError("a private libvirtd needs root (mount and PID namespaces, QEMU as root): uid is " + uid);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read /proc/self/status", e);
        }
    }

    private static String script() {
        try (InputStream in = Libvirt.class.getResourceAsStream(SCRIPT)) {
            if (in == null) {
                throw new AssertionError(SCRIPT + " is missing from the testkit jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + SCRIPT, e);
        }
    }

    private static String logs(Path work) {
        return "\n--- " + work.resolve("log/private-libvirtd.out") + " ---\n" + tail(work.resolve("log/private-libvirtd.out"), 20)
                + "\n--- " + work.resolve("log/libvirtd.log") + " (end) ---\n" + tail(work.resolve("log/libvirtd.log"), 20);
    }

    private static String tail(Path file, int lines) {
        try {
            if (!Files.exists(file)) {
                return "(none)";
            }
            List<String> all = Files.readAllLines(file, StandardCharsets.UTF_8);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "(unreadable: " + e + ")";
        }
    }

    private static void closeQuietly(FileChannel channel) {
        try {
            channel.close(); // releases the lock
        } catch (IOException ignored) {
            // nothing holds it any more
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while waiting for the private libvirtd", e);
        }
    }

    @Override
    public String toString() {
        return "Libvirt[" + uri + "]";
    }
}
