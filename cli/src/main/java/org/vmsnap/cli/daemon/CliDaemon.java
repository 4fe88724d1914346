package org.vmsnap.cli.daemon;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;

import jdk.net.ExtendedSocketOptions;
import jdk.net.UnixDomainPrincipal;

import org.vmsnap.cli.Cwd;
import org.vmsnap.cli.DaemonRules;
import org.vmsnap.cli.Main;
import org.vmsnap.manager.DomainService;
import org.vmsnap.manager.LocalSocket;

/**
 * A warm vmsnap for one state folder, as libvirtd is for virsh: the launcher hands it the short
 * commands ({@link DaemonRules}) itself through a FIFO ({@link ShellClients}), or through the JVM
 * client {@link Forward} on a socket, and it runs them with {@link Main#run} as the command line
 * would, each on its own thread (the domain lock serializes them, with each other and with every
 * other vmsnap). A command then costs the launcher's few milliseconds and the work itself, not a
 * JVM's start-up, class loading and JIT.
 * <p>The socket and the FIFO are in vmsnap's private run root ({@link DomainService#daemonSocket}),
 * mode 0600, and a socket client of another user is declined too. The state folder holds
 * {@value #MARKER}: the socket's path, the FIFO's, and this process's pid and start time, so the
 * launcher finds them without hashing anything. All are removed on close when they are still this
 * daemon's.
 */
public final class CliDaemon implements Closeable {
    /** In the state folder: the socket, the FIFO and "pid start-time" of the daemon that serves it, a line each. */
    public static final String MARKER = ".daemon";
    /** In the state folder: when the launcher last started a daemon for it (seconds since the epoch). */
    public static final String SPAWN_STAMP = ".daemon.spawn";
    private static final int FRAME_BYTES = 64 * 1024;

    private final Path home;
    private final Path socket;
    private final Object socketInode;
    private final ServerSocketChannel server;
    private final Consumer<String> log;
    private final Thread acceptor;
    /** The jar this JVM runs and its time at start, or null when run from classes (tests). */
    private final Path jar;
    private final java.nio.file.attribute.FileTime jarTime;
    private volatile boolean jarChangeLogged;
    /** The launcher's way in, or null when no FIFO could be made. */
    private ShellClients shell;
    /** False for a daemon the launcher started: commands that start QEMU run in the user's own JVM. */
    private final boolean startsQemu;
    /** Guards running, lastActive and stopping: a command is taken, or the idle daemon stops, not both. */
    private final Object activity = new Object();
    private int running;
    private long lastActive = System.nanoTime();
    private boolean stopping;
    /** The warm-up running beside the commands, or null ({@link #warmUp}). */
    private volatile WarmUp warmUp;
    /** The checkout the jar was built from, watched (the four-argument {@link #start}), or null. */
    private volatile SourceWatch sources;

    private CliDaemon(Path home, Path socket, Object socketInode, ServerSocketChannel server, Consumer<String> log,
                      boolean startsQemu) {
        this.home = home;
        this.startsQemu = startsQemu;
        this.socket = socket;
        this.socketInode = socketInode;
        this.server = server;
        this.log = log;
        this.acceptor = Thread.ofPlatform().name("vmsnap-daemon-accept").daemon().unstarted(this::acceptLoop);
        this.jar = ownJar();
        this.jarTime = jar == null ? null : modified(jar);
    }

    private static Path ownJar() {
        try {
            Path p = Path.of(CliDaemon.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            return Files.isRegularFile(p) ? p : null;
        } catch (java.net.URISyntaxException | RuntimeException e) {
            return null;
        }
    }

    private static java.nio.file.attribute.FileTime modified(Path p) {
        try {
            return Files.getLastModifiedTime(p);
        } catch (IOException e) {
            return null;
        }
    }

    /**
     * Serves the state folder {@code home} ({@code DomainService.defaultHome()} of this JVM: the
     * commands it runs use that one) until {@link #close}.
     *
     * @throws IOException when another daemon serves it, or the socket cannot be made
     */
    public static CliDaemon start(Path home, Consumer<String> log) throws IOException {
        return start(home, log, true);
    }

    /**
     * {@link #start(Path, Consumer)}; with {@code startsQemu} false the daemon declines the
     * commands that may start QEMU ({@link DaemonRules#startsQemu}): a daemon the launcher started
     * by itself has the environment and folder of whichever command started it, which the user did
     * not choose for their VMs.
     */
    public static CliDaemon start(Path home, Consumer<String> log, boolean startsQemu) throws IOException {
        return start(home, log, startsQemu, null);
    }

    /**
     * {@link #start(Path, Consumer, boolean)}; with {@code sourcesRoot} (the checkout its jar was
     * built from, as the launcher names it) it declines every command while a source there is newer
     * than its jar ({@link SourceWatch}), and says so in {@value #MARKER}'s fourth line: the launcher
     * then hands it a command before checking the sources itself.
     */
    public static CliDaemon start(Path home, Consumer<String> log, boolean startsQemu, Path sourcesRoot)
            throws IOException {
        Path h = home.toAbsolutePath().normalize();
        Path socket = DomainService.daemonSocket(h);
        switch (LocalSocket.probe(socket)) {
            case MISSING -> {
            }
            case LIVE -> throw new IOException("a vmsnap daemon already serves " + h + " (socket " + socket
                    + servingPid(h) + ")");
            case NOT_A_SOCKET, OTHER_USER -> throw new IOException(socket + ": exists and is not this user's socket;"
                    + " vmsnap leaves it (remove it by hand)");
            // A dead daemon's socket in this user's private run root: nothing listens or needs it.
            case DEAD -> Files.delete(socket);
        }
        ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        ShellClients shell = null;
        SourceWatch watch = null;
        try {
            ch.bind(UnixDomainSocketAddress.of(socket));
            Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-------"));
            Object inode = Files.getAttribute(socket, "unix:ino", LinkOption.NOFOLLOW_LINKS);
            CliDaemon d = new CliDaemon(h, socket, inode, ch, log, startsQemu);
            String marker = socket + "\n";
            try {
                shell = ShellClients.start(d, socket, log);
                d.shell = shell;
                marker += shell.fifo() + "\n" + ProcessHandle.current().pid() + " " + startTime() + "\n";
            } catch (IOException e) {
                // The launcher's JVM client still reaches the socket, only slower.
                log.accept("no FIFO for the launcher (" + e.getMessage() + "); clients come through " + socket);
            }
            // The launcher's jar of that checkout, which must be the one this JVM runs (tests run
            // from classes). A root whose name holds a line break would break the marker's lines.
            Path built = sourcesRoot == null ? null : sourcesRoot.resolve("cli/target/vmsnap.jar");
            if (shell != null && built != null && (d.jar == null || d.jar.equals(built))
                    && !sourcesRoot.toString().contains("\n")) {
                watch = SourceWatch.start(sourcesRoot, built);
                d.sources = watch;
                watch.current(); // watches and walks once now, not at the first command
                marker += sourcesRoot + "\n";
            }
            DomainService.writeStateFile(h, MARKER, marker);
            d.acceptor.start();
            return d;
        } catch (IOException | RuntimeException e) {
            ch.close();
            if (shell != null) {
                shell.close();
            }
            if (watch != null) {
                watch.close();
            }
            throw e;
        }
    }

    /** ", pid N: kill N stops it" from the marker of the daemon that serves {@code home}, or "". */
    private static String servingPid(Path home) {
        try {
            List<String> marker = Files.readAllLines(home.resolve(MARKER), StandardCharsets.UTF_8);
            String pid = marker.size() > 2 ? marker.get(2).split(" ")[0] : "";
            return pid.matches("[0-9]+") ? ", pid " + pid + ": kill " + pid + " stops it" : "";
        } catch (IOException e) {
            return "";
        }
    }

    /**
     * This process's start time in clock ticks since boot ({@code /proc/self/stat}, field 22): with
     * the pid in {@value #MARKER} it lets the launcher tell this daemon from a process that got its
     * pid after it died, with bash builtins alone.
     */
    static String startTime() throws IOException {
        String stat = Files.readString(Path.of("/proc/self/stat"), StandardCharsets.US_ASCII);
        String[] after = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return after[22 - 3];
    }

    public Path socket() {
        return socket;
    }

    private void acceptLoop() {
        while (server.isOpen()) {
            SocketChannel c;
            try {
                c = server.accept();
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                log.accept("accept: " + e.getMessage());
                continue;
            }
            // A platform thread: the commands take flocks and call native code, which pins a
            // virtual thread's carrier anyway.
            Thread.ofPlatform().name("vmsnap-daemon-client").daemon().start(() -> serve(c));
        }
    }

    private void serve(SocketChannel c) {
        try (c) {
            DataInputStream in = new DataInputStream(new BufferedInputStream(Channels.newInputStream(c)));
            DataOutputStream o = new DataOutputStream(new BufferedOutputStream(Channels.newOutputStream(c), FRAME_BYTES + 16));
            ForwardProtocol.Request r;
            try {
                r = ForwardProtocol.read(in);
            } catch (java.io.EOFException e) {
                return; // a probe (another daemon checking whether this one is alive), or a client gone
            } catch (IOException e) {
                log.accept("a bad request: " + e.getMessage());
                return;
            }
            UnixDomainPrincipal peer = c.getOption(ExtendedSocketOptions.SO_PEERCRED);
            String why = peer.user().getName().equals(System.getProperty("user.name")) ? refusal(r) : "another user";
            answer(r, why, new SocketAnswer(o));
        } catch (IOException e) {
            log.accept("a client went away: " + e.getMessage());
        }
    }

    /**
     * Runs {@code r} and sends its output and exit code to {@code a}, or declines it for
     * {@code why} (not null): the client then runs it itself.
     */
    void answer(ForwardProtocol.Request r, String why, Answer a) throws IOException {
        if (why != null) {
            a.declined(why);
            return;
        }
        boolean taken;
        synchronized (activity) {
            taken = !stopping;
            if (taken) {
                running++;
            }
        }
        if (!taken) {
            a.declined("the daemon is stopping"); // (no I/O under the lock the idle check takes)
            return;
        }
        try {
            if (a.accepted()) {
                run(r, a);
            } // else the client gave up waiting and runs the command itself
        } finally {
            synchronized (activity) {
                running--;
                lastActive = System.nanoTime();
            }
        }
    }

    private void run(ForwardProtocol.Request r, Answer a) throws IOException {
        long start = System.nanoTime();
        PrintWriter out = new PrintWriter(new OutputStreamWriter(new Frames(a, ForwardProtocol.OUT), StandardCharsets.UTF_8), true);
        PrintWriter err = new PrintWriter(new OutputStreamWriter(new Frames(a, ForwardProtocol.ERR), StandardCharsets.UTF_8), true);
        int code;
        try {
            code = Cwd.in(Path.of(r.cwd()), () -> Main.run(out, err, r.args()));
        } catch (Exception | Error e) {
            // Main.run reports a command's errors itself; this is vmsnap's own bug.
            err.println("vmsnap: internal error in the daemon: " + e);
            code = 1;
        }
        out.flush();
        err.flush();
        a.exit(code);
        log.accept(verb(r.args()) + ": exit " + code + " in " + (System.nanoTime() - start) / 1_000_000 + " ms");
    }

    /** Why a request is declined (the client then runs it itself), or null. */
    String refusal(ForwardProtocol.Request r) {
        Path cwd;
        try {
            cwd = Path.of(r.cwd());
        } catch (java.nio.file.InvalidPathException e) {
            return "a bad folder";
        }
        if (!cwd.isAbsolute()) {
            return "a relative folder";
        }
        Path theirs = r.home().isEmpty() ? Path.of(System.getProperty("user.home"), ".local", "share", "vmsnap")
                : cwd.resolve(r.home());
        if (!theirs.normalize().equals(home)) {
            return "another state folder";
        }
        if (!r.runtimeDir().equals(Objects.requireNonNullElse(System.getenv("XDG_RUNTIME_DIR"), ""))
                || !r.tz().equals(Objects.requireNonNullElse(System.getenv("TZ"), ""))) {
            return "another environment";
        }
        if (jarChanged()) {
            // A rebuilt jar: this JVM would mix old classes with new ones, and run old code.
            if (!jarChangeLogged) {
                jarChangeLogged = true;
                log.accept(jar + " changed since the daemon started: every command now runs in its own JVM;"
                        + " restart the daemon");
            }
            return "the jar changed";
        }
        SourceWatch w = sources;
        if (w != null && !w.current()) {
            return "a source in " + w.root() + " is newer than the jar";
        }
        if (!DaemonRules.accepts(r.args())) {
            return "not a daemon command";
        }
        return startsQemu || !DaemonRules.startsQemu(home, r.args()) ? null
                : "it may start QEMU, which then gets the environment of your own command";
    }

    private boolean jarChanged() {
        return jar != null && !Objects.equals(jarTime, modified(jar));
    }

    /**
     * Stops taking commands when none runs and none ended for {@code idleNanos}, or at once when
     * the jar changed (this daemon would decline everything); returns why it stopped, or null
     * when it goes on. The caller then closes it. Declined requests do not count: a daemon that
     * declines everything stops all the same.
     */
    public String stopIfIdle(long idleNanos) {
        boolean rebuilt = jarChanged();
        synchronized (activity) {
            if (stopping || running > 0 || System.nanoTime() - lastActive < (rebuilt ? 0 : idleNanos)) {
                return null;
            }
            stopping = true;
        }
        return rebuilt ? jar + " changed since it started" : "no command for " + idleNanos / 1_000_000_000L + " s";
    }

    private static String verb(String[] args) {
        StringBuilder b = new StringBuilder();
        for (String a : args) {
            if (a.startsWith("-")) {
                continue;
            }
            b.append(b.isEmpty() ? "" : " ").append(a);
            if (!a.equals("img")) {
                break;
            }
        }
        return b.toString();
    }

    /**
     * Runs the short img verbs on a scratch image of its own beside the commands ({@link WarmUp}),
     * so that a client's first ones find them compiled. {@link #close} ends it first.
     */
    public void warmUp() {
        warmUp = WarmUp.start(log);
    }

    @Override
    public void close() throws IOException {
        WarmUp w = warmUp;
        if (w != null) {
            w.stop(); // its scratch folder is gone before the JVM may end
        }
        server.close();
        if (shell != null) {
            shell.close();
        }
        if (sources != null) {
            sources.close();
        }
        // Only what is still this daemon's: a newer daemon may have replaced a socket it found dead.
        try {
            if (socketInode.equals(Files.getAttribute(socket, "unix:ino", LinkOption.NOFOLLOW_LINKS))) {
                Files.delete(socket);
            }
        } catch (java.nio.file.NoSuchFileException e) {
            // gone already
        }
        // The launcher's note of when it last started a daemon here: once this one ends, the next
        // command may start another at once.
        Files.deleteIfExists(home.resolve(SPAWN_STAMP));
        Path marker = home.resolve(MARKER);
        try {
            if (Files.readString(marker, StandardCharsets.UTF_8).lines().findFirst().orElse("").equals(socket.toString())) {
                Files.delete(marker);
            }
        } catch (java.nio.file.NoSuchFileException e) {
            // gone already
        }
    }

    /** Where a request's answer goes: a socket client's frames, or the launcher's own ({@link ShellClients}). */
    interface Answer {
        /** Tells the client to run the command itself: nothing was done. */
        void declined(String why) throws IOException;

        /** Tells the client the daemon runs it; false when the client gave up and runs it itself. */
        boolean accepted() throws IOException;

        /** Output of the command, {@link ForwardProtocol#OUT} or {@link ForwardProtocol#ERR}. */
        void output(byte type, byte[] b, int off, int len) throws IOException;

        void exit(int code) throws IOException;
    }

    /** The binary frames of {@link ForwardProtocol} on a client's socket. */
    private static final class SocketAnswer implements Answer {
        private final DataOutputStream o;

        SocketAnswer(DataOutputStream o) {
            this.o = o;
        }

        @Override
        public void declined(String why) throws IOException {
            byte[] b = why.getBytes(StandardCharsets.UTF_8);
            ForwardProtocol.frame(o, ForwardProtocol.DECLINED, b, 0, b.length);
        }

        @Override
        public boolean accepted() throws IOException {
            ForwardProtocol.frame(o, ForwardProtocol.ACCEPTED, new byte[0], 0, 0);
            return true;
        }

        @Override
        public void output(byte type, byte[] b, int off, int len) throws IOException {
            synchronized (o) {
                ForwardProtocol.frame(o, type, b, off, len);
            }
        }

        @Override
        public void exit(int code) throws IOException {
            synchronized (o) {
                o.writeByte(ForwardProtocol.EXIT);
                o.writeInt(4);
                o.writeInt(code);
                o.flush();
            }
        }
    }

    /** One stream's output as frames, sent at each flush (println, the end) or every 64 KiB. */
    private static final class Frames extends OutputStream {
        private final Answer a;
        private final byte type;
        private final ByteArrayOutputStream buf = new ByteArrayOutputStream();

        Frames(Answer a, byte type) {
            this.a = a;
            this.type = type;
        }

        @Override
        public void write(int b) throws IOException {
            buf.write(b);
            if (buf.size() >= FRAME_BYTES) {
                flush();
            }
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            buf.write(b, off, len);
            if (buf.size() >= FRAME_BYTES) {
                flush();
            }
        }

        @Override
        public void flush() throws IOException {
            if (buf.size() == 0) {
                return;
            }
            a.output(type, buf.toByteArray(), 0, buf.size());
            buf.reset();
        }
    }
}
