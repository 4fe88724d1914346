package org.vmsnap.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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

    private static final ObjectMapper MAPPER = new ObjectMapper();

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
     * including its newline), up to the line with which the client stops waiting (see
     * {@link Waiting}) or the end of the input. QMP: the greeting goes at once; then a request
     * gets lines up to its reply (events before it come first). Agent: a sync gets lines up to
     * a delimiter and the line with its id, a call up to a line.
     */
    private static void converse(SocketChannel channel, byte[] bytes, boolean agent) throws IOException {
        String input = new String(bytes, StandardCharsets.ISO_8859_1);
        int next = 0;
        if (!agent) {
            Waiting greeting = new QmpWaiting(null) {
                @Override
                boolean line(String line) {
                    return true; // a greeting, or a first message that ends the connection
                }
            };
            while (next < input.length()) {
                int end = lineEnd(input, next);
                byte[] line = input.substring(next, end).getBytes(StandardCharsets.ISO_8859_1);
                next = end;
                write(channel, line);
                if (greeting.satisfiedBy(line)) {
                    break;
                }
            }
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
            Waiting client = agent ? new AgentWaiting(id) : new QmpWaiting(qmp.find() ? qmp.group(1) : null);
            while (next < input.length()) {
                int end = lineEnd(input, next);
                byte[] line = input.substring(next, end).replace("$ID", id == null ? "0" : id)
                        .getBytes(StandardCharsets.ISO_8859_1);
                next = end;
                write(channel, line);
                if (client.satisfiedBy(line)) {
                    break;
                }
            }
        }
    }

    /**
     * What the client does with the frames it gets while it waits for the answer to one
     * request (mirrors the clients' frame splitting and acceptance, so the peer stops sending
     * exactly when the client stops waiting, and neither waits for the other).
     */
    private abstract static class Waiting {
        private final java.io.ByteArrayOutputStream text = new java.io.ByteArrayOutputStream();
        private boolean done;

        /** Feeds the bytes of one input line; whether the client has stopped waiting. */
        final boolean satisfiedBy(byte[] bytes) {
            for (byte b : bytes) {
                if (done) {
                    return true;
                }
                if (b == (byte) 0xFF) {
                    text.reset();
                    done = delimiter();
                } else if (b == '\n') {
                    String line = text.toString(StandardCharsets.UTF_8).strip();
                    text.reset();
                    done = !line.isEmpty() && line(line);
                } else {
                    text.write(b);
                }
            }
            return done;
        }

        abstract boolean delimiter();

        abstract boolean line(String line);
    }

    /** GuestAgentClient: a sync waits for a delimiter and then its id; a call for any line. */
    private static final class AgentWaiting extends Waiting {
        private final String syncId;
        private boolean afterDelimiter;

        AgentWaiting(String syncId) {
            this.syncId = syncId;
        }

        @Override
        boolean delimiter() {
            afterDelimiter = true;
            return false;
        }

        @Override
        boolean line(String line) {
            if (syncId == null) {
                return true;
            }
            boolean candidate = afterDelimiter;
            afterDelimiter = false;
            if (!candidate) {
                return false;
            }
            JsonNode answer = parse(line);
            return answer != null && answer.isObject() && answer.path("return").asLong(-1) == Long.parseLong(syncId);
        }
    }

    /** QmpClient: waits for the reply with its id; a message it cannot take ends the connection. */
    private static class QmpWaiting extends Waiting {
        private final String id;

        QmpWaiting(String id) {
            this.id = id;
        }

        @Override
        boolean delimiter() {
            return true; // 0xFF is not QMP: the client drops the connection
        }

        @Override
        boolean line(String line) {
            JsonNode m = parse(line);
            if (m == null || !m.isObject() || m.has("QMP")) {
                return true;
            }
            if (m.has("event")) {
                return false;
            }
            if (!m.has("error") && !m.has("return")) {
                return true;
            }
            JsonNode replyId = m.get("id");
            return replyId == null || replyId.asText().equals(id);
        }
    }

    private static JsonNode parse(String line) {
        try {
            return MAPPER.readTree(line);
        } catch (IOException notJson) {
            return null;
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
