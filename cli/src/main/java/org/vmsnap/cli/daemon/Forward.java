package org.vmsnap.cli.daemon;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * The client the launcher starts instead of the whole CLI when a daemon serves the state folder
 * ({@code java -cp vmsnap.jar org.vmsnap.cli.daemon.Forward SOCKET ARGS...}): it hands the
 * arguments over, copies the daemon's output to its own stdout and stderr, and exits with the
 * command's code. It loads a few JDK classes and nothing of picocli or the manager, so it starts
 * as fast as a bare {@code --version}.
 * <p>Exit code {@value #NOT_SERVED}, with nothing printed, when the daemon is not there or declines
 * the command before running any of it: the launcher then runs the command in its own JVM.
 */
public final class Forward {
    /** Not served: run the command locally. No vmsnap command exits with it. */
    public static final int NOT_SERVED = 250;

    private Forward() {
    }

    public static void main(String[] argv) {
        if (argv.length < 1) {
            System.exit(NOT_SERVED);
        }
        ForwardProtocol.Request r = new ForwardProtocol.Request(System.getProperty("user.dir"), env("VMSNAP_HOME"),
                env("XDG_RUNTIME_DIR"), env("TZ"), Arrays.copyOfRange(argv, 1, argv.length));
        Path socket;
        try {
            socket = Path.of(argv[0]);
        } catch (java.nio.file.InvalidPathException e) {
            socket = null; // a marker with a name no socket has: not served
        }
        System.exit(socket == null ? NOT_SERVED : run(socket, r, new FileOutputStream(FileDescriptor.out),
                new FileOutputStream(FileDescriptor.err)));
    }

    /** Hands {@code r} to the daemon at {@code socket}: the command's exit code, or {@link #NOT_SERVED}. */
    static int run(Path socket, ForwardProtocol.Request r, OutputStream stdout, OutputStream stderr) {
        boolean accepted = false;
        // stdout or stderr closed (vmsnap snapshot-list | head -1): the rest of its output is
        // dropped and the command's exit code still returned, as a command's own JVM does.
        boolean[] broken = new boolean[2];
        try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            DataOutputStream o = new DataOutputStream(new BufferedOutputStream(Channels.newOutputStream(ch)));
            ForwardProtocol.write(o, r);
            DataInputStream in = new DataInputStream(new BufferedInputStream(Channels.newInputStream(ch)));
            byte[] buf = new byte[8192];
            while (true) {
                int type = ForwardProtocol.nextType(in);
                if (type < 0) {
                    throw new IOException("the connection ended before the command's exit code");
                }
                int len = in.readInt();
                if (len < 0) {
                    throw new IOException("bad frame length " + len);
                }
                if (type == ForwardProtocol.EXIT && len == 4) {
                    return in.readInt();
                }
                if (type == ForwardProtocol.DECLINED && !accepted) {
                    return NOT_SERVED;
                }
                if (type == ForwardProtocol.ACCEPTED) {
                    accepted = true;
                }
                int stream = type == ForwardProtocol.OUT ? 0 : type == ForwardProtocol.ERR ? 1 : -1;
                OutputStream to = stream < 0 || broken[stream] ? null : stream == 0 ? stdout : stderr;
                while (len > 0) {
                    int n = in.read(buf, 0, Math.min(buf.length, len));
                    if (n < 0) {
                        throw new IOException("the connection ended inside a frame");
                    }
                    to = copy(to, buf, n, broken, stream);
                    len -= n;
                }
                if (to != null) {
                    try {
                        to.flush();
                    } catch (IOException e) {
                        broken[stream] = true;
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            if (!accepted) {
                return NOT_SERVED; // no daemon (a stale socket), or it went before taking the command
            }
            try {
                stderr.write(("vmsnap: lost the daemon during the command (" + e.getMessage() + "); it may have"
                        + " taken effect: the next command finishes or undoes what its journal holds\n").getBytes());
                stderr.flush();
            } catch (IOException ignored) {
                // stderr is gone too: the exit code says it
            }
            return 1;
        }
    }

    /** Writes to {@code to} unless it failed before; returns null once it fails. */
    private static OutputStream copy(OutputStream to, byte[] buf, int n, boolean[] broken, int stream) {
        if (to == null) {
            return null;
        }
        try {
            to.write(buf, 0, n);
            return to;
        } catch (IOException e) {
            broken[stream] = true;
            return null;
        }
    }

    private static String env(String name) {
        String v = System.getenv(name);
        return v == null ? "" : v;
    }
}
