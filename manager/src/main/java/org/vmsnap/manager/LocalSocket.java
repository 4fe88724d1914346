package org.vmsnap.manager;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/**
 * What is at the path where vmsnap is about to make a UNIX socket ({@code serve --socket}, the
 * CLI daemon): a server's socket that is dead may be replaced, nothing else.
 */
public final class LocalSocket {
    /** The answer of {@link #probe}. */
    public enum State {
        /** Nothing there. */
        MISSING,
        /** Something that is not a socket. */
        NOT_A_SOCKET,
        /** A socket of another user: never taken over, dead or not. */
        OTHER_USER,
        /** This user's socket, and a connect is refused: its server is gone. */
        DEAD,
        /** This user's socket with a server that accepts connections. */
        LIVE
    }

    private LocalSocket() {
    }

    /**
     * Looks at {@code socket} without following a link.
     *
     * @throws IOException when a connect fails other than by refusal (the state cannot be told)
     */
    public static State probe(Path socket) throws IOException {
        if (!Files.exists(socket, LinkOption.NOFOLLOW_LINKS)) {
            return State.MISSING;
        }
        int mode = (Integer) Files.getAttribute(socket, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        if ((mode & 0170000) != 0140000) {
            return State.NOT_A_SOCKET;
        }
        // /proc/self belongs to this process's uid.
        if (!Files.getAttribute(socket, "unix:uid", LinkOption.NOFOLLOW_LINKS)
                .equals(Files.getAttribute(Path.of("/proc/self"), "unix:uid"))) {
            return State.OTHER_USER;
        }
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            return State.LIVE;
        } catch (java.net.ConnectException refused) {
            return State.DEAD;
        }
    }
}
