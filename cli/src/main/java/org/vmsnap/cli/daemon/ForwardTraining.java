package org.vmsnap.cli.daemon;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The AOT training run of {@link Forward} (the launcher's {@code vmsnap-client.aot}): the client
 * against a stand-in daemon on a socket in a temporary folder, so that the cache holds exactly
 * the classes a forwarded command loads: the socket, the frames, the output.
 */
public final class ForwardTraining {
    private ForwardTraining() {
    }

    public static void main(String[] argv) throws Exception {
        Path dir = Files.createTempDirectory("vmsnap-forward-training");
        Path socket = dir.resolve("s");
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(socket));
            Thread t = Thread.ofPlatform().daemon().start(() -> answer(server));
            for (int i = 0; i < 3; i++) {
                Forward.run(socket, new ForwardProtocol.Request(System.getProperty("user.dir"), "", "", "",
                        new String[] {"domstate", "vm"}), OutputStream.nullOutputStream(), OutputStream.nullOutputStream());
            }
            // Last, the client's whole main: its environment lookups and System.exit (which loads
            // the JDK's logging of exits) belong in the cache too. The stand-in's answer goes to
            // this run's stdout, which the launcher drops.
            Runtime.getRuntime().addShutdownHook(new Thread(() -> cleanUp(socket, dir)));
            Forward.main(new String[] {socket.toString(), "domstate", "vm"});
        } finally {
            cleanUp(socket, dir);
        }
    }

    private static void cleanUp(Path socket, Path dir) {
        try {
            Files.deleteIfExists(socket);
            Files.deleteIfExists(dir);
        } catch (IOException e) {
            // a temporary folder left behind
        }
    }

    private static void answer(ServerSocketChannel server) {
        while (server.isOpen()) {
            try (SocketChannel c = server.accept()) {
                ForwardProtocol.read(new DataInputStream(new BufferedInputStream(Channels.newInputStream(c))));
                DataOutputStream o = new DataOutputStream(new BufferedOutputStream(Channels.newOutputStream(c)));
                byte[] text = "shut off\n".getBytes(StandardCharsets.UTF_8);
                ForwardProtocol.frame(o, ForwardProtocol.ACCEPTED, text, 0, 0);
                ForwardProtocol.frame(o, ForwardProtocol.OUT, text, 0, text.length);
                ForwardProtocol.frame(o, ForwardProtocol.ERR, text, 0, text.length);
                o.writeByte(ForwardProtocol.EXIT);
                o.writeInt(4);
                o.writeInt(0);
                o.flush();
            } catch (IOException e) {
                return;
            }
        }
    }
}
