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
 * commands ({@link DaemonRules}) through {@link Forward}, and it runs them with {@link Main#run}
 * as the command line would, each on its own thread (the domain lock serializes them, with each
 * other and with every other vmsnap). A command then costs a small client's start-up and the
 * work itself, not a JVM's start-up, class loading and JIT.
 * <p>The socket is in vmsnap's private run root ({@link DomainService#daemonSocket}), mode 0600, and a
 * client of another user is declined too. The state folder holds {@value #MARKER}, the socket's
 * path, so the launcher finds the socket without hashing anything. Both are removed on close when
 * they are still this daemon's.
 */
public final class CliDaemon implements Closeable {
    /** In the state folder: the path of the socket of the daemon that serves it. */
    public static final String MARKER = ".daemon";
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

    private CliDaemon(Path home, Path socket, Object socketInode, ServerSocketChannel server, Consumer<String> log) {
        this.home = home;
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
        Path h = home.toAbsolutePath().normalize();
        Path socket = DomainService.daemonSocket(h);
        switch (LocalSocket.probe(socket)) {
            case MISSING -> {
            }
            case LIVE -> throw new IOException("a vmsnap daemon already serves " + h + " (socket " + socket + ")");
            case NOT_A_SOCKET, OTHER_USER -> throw new IOException(socket + ": exists and is not this user's socket;"
                    + " vmsnap leaves it (remove it by hand)");
            // A dead daemon's socket in this user's private run root: nothing listens or needs it.
            case DEAD -> Files.delete(socket);
        }
        ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.bind(UnixDomainSocketAddress.of(socket));
            Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-------"));
            Object inode = Files.getAttribute(socket, "unix:ino", LinkOption.NOFOLLOW_LINKS);
            DomainService.writeStateFile(h, MARKER, socket + "\n");
            CliDaemon d = new CliDaemon(h, socket, inode, ch, log);
            d.acceptor.start();
            return d;
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
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
            String why = refusal(c, r);
            if (why != null) {
                byte[] b = why.getBytes(StandardCharsets.UTF_8);
                ForwardProtocol.frame(o, ForwardProtocol.DECLINED, b, 0, b.length);
                return;
            }
            ForwardProtocol.frame(o, ForwardProtocol.ACCEPTED, new byte[0], 0, 0);
            long start = System.nanoTime();
            PrintWriter out = new PrintWriter(new OutputStreamWriter(new Frames(o, ForwardProtocol.OUT), StandardCharsets.UTF_8), true);
            PrintWriter err = new PrintWriter(new OutputStreamWriter(new Frames(o, ForwardProtocol.ERR), StandardCharsets.UTF_8), true);
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
            synchronized (o) {
                o.writeByte(ForwardProtocol.EXIT);
                o.writeInt(4);
                o.writeInt(code);
                o.flush();
            }
            log.accept(verb(r.args()) + ": exit " + code + " in " + (System.nanoTime() - start) / 1_000_000 + " ms");
        } catch (IOException e) {
            log.accept("a client went away: " + e.getMessage());
        }
    }

    /** Why a request is declined (the client then runs it itself), or null. */
    String refusal(SocketChannel c, ForwardProtocol.Request r) throws IOException {
        UnixDomainPrincipal peer = c.getOption(ExtendedSocketOptions.SO_PEERCRED);
        if (!peer.user().getName().equals(System.getProperty("user.name"))) {
            return "another user";
        }
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
        if (jar != null && !Objects.equals(jarTime, modified(jar))) {
            // A rebuilt jar: this JVM would mix old classes with new ones, and run old code.
            if (!jarChangeLogged) {
                jarChangeLogged = true;
                log.accept(jar + " changed since the daemon started: every command now runs in its own JVM;"
                        + " restart the daemon");
            }
            return "the jar changed";
        }
        return DaemonRules.accepts(r.args()) ? null : "not a daemon command";
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

    @Override
    public void close() throws IOException {
        server.close();
        // Only what is still this daemon's: a newer daemon may have replaced a socket it found dead.
        try {
            if (socketInode.equals(Files.getAttribute(socket, "unix:ino", LinkOption.NOFOLLOW_LINKS))) {
                Files.delete(socket);
            }
        } catch (java.nio.file.NoSuchFileException e) {
            // gone already
        }
        Path marker = home.resolve(MARKER);
        try {
            if (Files.readString(marker, StandardCharsets.UTF_8).strip().equals(socket.toString())) {
                Files.delete(marker);
            }
        } catch (java.nio.file.NoSuchFileException e) {
            // gone already
        }
    }

    /** One stream's output as frames, sent at each flush (println, the end) or every 64 KiB. */
    private static final class Frames extends OutputStream {
        private final DataOutputStream o;
        private final byte type;
        private final ByteArrayOutputStream buf = new ByteArrayOutputStream();

        Frames(DataOutputStream o, byte type) {
            this.o = o;
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
            synchronized (o) {
                ForwardProtocol.frame(o, type, buf.toByteArray(), 0, buf.size());
            }
            buf.reset();
        }
    }
}
