package org.vmsnap.qmp;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The far end of a QMP or guest-agent socket for fuzzing: every connection is answered with
 * the lines of the current input, each sent only once the client has asked for it (see
 * {@link #converse}), then the peer ends its side (so the client sees end of stream at once
 * instead of waiting for its timeout) and drops whatever the client sends. Sending an
 * answer only after its request keeps runs repeatable: a client drops replies it did not
 * wait for yet.
 *
 * <p>In agent mode the peer puts the random id of the client's {@code guest-sync-delimited}
 * wherever the input says {@code $ID}, so the fuzzer can get past the handshake (the seeds
 * show it how).
 */
final class HostilePeer implements AutoCloseable {

    private static final Pattern SYNC_ID = Pattern.compile("guest-sync-delimited.*?\"id\"\\s*:\\s*(\\d+)");

    private static final Pattern QMP_ID = Pattern.compile("\"id\"\\s*:\\s*\"([^\"]*)\"");

    private final Path dir;
    private final Path socket;
    private final ServerSocketChannel server;
    private final boolean agent;
    private volatile byte[] answer = new byte[0];

    HostilePeer(boolean agent) throws IOException {
        this.agent = agent;
        this.dir = Files.createTempDirectory("vmsnap-hostile-peer");
        this.socket = dir.resolve(agent ? "qga.sock" : "qmp.sock");
        this.server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(socket));
        Thread.ofPlatform().daemon().name("hostile-peer-acceptor").start(this::acceptLoop);
    }

    Path socket() {
        return socket;
    }

    /** The bytes the next connections get. */
    void answerWith(byte[] bytes) {
        answer = bytes.clone();
    }

    private void acceptLoop() {
        while (true) {
            SocketChannel channel;
            try {
                channel = server.accept();
            } catch (ClosedChannelException closed) {
                return;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            byte[] bytes = answer;
            Thread.ofVirtual().name("hostile-peer").start(() -> serve(channel, bytes));
        }
    }

    private void serve(SocketChannel channel, byte[] bytes) {
        try (channel) {
            converse(channel, bytes, agent);
            channel.shutdownOutput();
            ByteBuffer in = ByteBuffer.allocate(64 * 1024);
            while (channel.read(in.clear()) >= 0) {
                // the client's further requests go unanswered
            }
        } catch (IOException clientGone) {
            // the client closed first: fine
        }
    }

    /**
     * Answers each request of the client with the input's next lines (each up to and
     * including its newline). QMP: the first line (the greeting) goes at once, then each
     * request gets lines up to one that holds the request's id (events before it come
     * first). Agent: each request gets lines until the client has what it waits for (after
     * a sync the line with its id, after a stray 0xFF a line). Either way up to the end of the
     * input.
     */
    private static void converse(SocketChannel channel, byte[] bytes, boolean agent) throws IOException {
        String input = new String(bytes, StandardCharsets.ISO_8859_1);
        int next = 0;
        if (!agent) {
            next = lineEnd(input, 0);
            write(channel, input.substring(0, next).getBytes(StandardCharsets.ISO_8859_1));
        }
        ByteBuffer in = ByteBuffer.allocate(64 * 1024);
        StringBuilder pending = new StringBuilder();
        while (next < input.length()) {
            int newline;
            while ((newline = pending.indexOf("\n")) < 0) {
                if (channel.read(in.clear()) < 0) {
                    return;
                }
                pending.append(new String(in.array(), 0, in.position(), StandardCharsets.ISO_8859_1));
            }
            String request = pending.substring(0, newline);
            pending.delete(0, newline + 1);
            Matcher sync = SYNC_ID.matcher(request);
            String id = sync.find() ? sync.group(1) : null;
            Matcher qmp = QMP_ID.matcher(request);
            String qmpId = qmp.find() ? "\"" + qmp.group(1) + "\"" : null;
            while (next < input.length()) {
                int end = lineEnd(input, next);
                String line = input.substring(next, end).replace("$ID", id == null ? "0" : id);
                next = end;
                write(channel, line.getBytes(StandardCharsets.ISO_8859_1));
                if (!agent) {
                    if (qmpId != null && line.contains(qmpId)) {
                        break; // the reply the client waits for, or one it takes for that
                    }
                    continue;
                }
                String afterDelimiter = line.substring(line.lastIndexOf('\u00ff') + 1).strip();
                boolean answered = id == null ? !afterDelimiter.isEmpty()
                        : line.indexOf('\u00ff') >= 0 && afterDelimiter.contains(id)
                        || line.indexOf('\u00ff') < 0 && line.contains(id);
                if (answered) {
                    break;
                }
            }
        }
    }

    private static int lineEnd(String input, int from) {
        int newline = input.indexOf('\n', from);
        return newline < 0 ? input.length() : newline + 1;
    }

    private static void write(SocketChannel channel, byte[] bytes) throws IOException {
        ByteBuffer buffer = ByteBuffer.wrap(bytes);
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        Files.deleteIfExists(socket);
        Files.deleteIfExists(dir);
    }
}
