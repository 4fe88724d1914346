package org.vmsnap.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The other end of a QMP or guest-agent connection, driven step by step by a test on a
 * real UNIX socket: accept, read the client's next message, send lines (or raw bytes),
 * close. Everything it reads is parsed as JSON, one message per line, like QEMU does.
 */
final class ScriptedPeer implements AutoCloseable {

    static final String GREETING = "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7},"
            + " \"package\": \"scripted\"}, \"capabilities\": [\"oob\"]}}";

    private static final ObjectMapper MAPPER = new ObjectMapper();

    private final Path path;
    private final ServerSocketChannel server;
    private final ExecutorService acceptor = Executors.newSingleThreadExecutor(r -> new Thread(r, "scripted-peer"));
    private final CompletableFuture<SocketChannel> connection;
    private final LinkedBlockingQueue<JsonNode> received = new LinkedBlockingQueue<>();
    private Thread readerThread;

    ScriptedPeer(Path path) throws IOException {
        this.path = path;
        Files.deleteIfExists(path);
        server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(path));
        connection = CompletableFuture.supplyAsync(this::acceptAndRead, acceptor);
    }

    Path path() {
        return path;
    }

    private SocketChannel acceptAndRead() {
        try {
            SocketChannel channel = server.accept();
            readerThread = Thread.ofPlatform().name("scripted-peer-reader").start(() -> readLoop(channel));
            return channel;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private void readLoop(SocketChannel channel) {
        ByteBuffer buffer = ByteBuffer.allocate(8192);
        StringBuilder line = new StringBuilder();
        try {
            while (channel.read(buffer.clear()) >= 0) {
                buffer.flip();
                while (buffer.hasRemaining()) {
                    int b = buffer.get() & 0xff;
                    if (b == 0xff) {
                        line.setLength(0);
                        received.add(MAPPER.getNodeFactory().textNode("<0xFF>"));
                    } else if (b == '\n') {
                        if (!line.isEmpty()) {
                            received.add(MAPPER.readTree(line.toString()));
                        }
                        line.setLength(0);
                    } else {
                        line.append((char) b);
                    }
                }
            }
        } catch (IOException e) {
            // the test closed the connection
        }
    }

    /** The connection, once the client connected. */
    private SocketChannel channel() throws Exception {
        return connection.get(10, TimeUnit.SECONDS);
    }

    /** Sends the QMP greeting, then answers the capabilities negotiation. */
    ScriptedPeer greetAndNegotiate() throws Exception {
        send(GREETING);
        JsonNode caps = receive();
        if (!caps.path("execute").asText().equals("qmp_capabilities")) {
            throw new AssertionError("expected qmp_capabilities, got " + caps);
        }
        reply(caps, "{}");
        return this;
    }

    /** The next message the client sent (a JSON object, or the text node "<0xFF>"). */
    JsonNode receive() throws Exception {
        channel();
        JsonNode message = received.poll(10, TimeUnit.SECONDS);
        if (message == null) {
            throw new AssertionError("the client sent nothing within 10 s");
        }
        return message;
    }

    /** Whether the client sends anything within {@code wait}. */
    JsonNode receiveWithin(Duration wait) throws Exception {
        channel();
        return received.poll(wait.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Sends {"return": RESULT, "id": ID} for {@code request}. */
    void reply(JsonNode request, String resultJson) throws Exception {
        send("{\"return\": " + resultJson + ", \"id\": " + request.get("id") + "}");
    }

    /** Sends {"error": {...}, "id": ID} for {@code request}. */
    void replyError(JsonNode request, String errorClass, String desc) throws Exception {
        send("{\"error\": {\"class\": \"" + errorClass + "\", \"desc\": \"" + desc + "\"}, \"id\": " + request.get("id") + "}");
    }

    void event(String name, String dataJson) throws Exception {
        send("{\"timestamp\": {\"seconds\": 1700000000, \"microseconds\": 5}, \"event\": \"" + name + "\", \"data\": "
                + dataJson + "}");
    }

    /** Sends one line, ended with CR LF like QEMU's monitor. */
    void send(String line) throws Exception {
        sendRaw((line + "\r\n").getBytes(StandardCharsets.UTF_8));
    }

    void sendRaw(byte[] bytes) throws Exception {
        ByteBuffer buffer = ByteBuffer.wrap(bytes);
        SocketChannel channel = channel();
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
    }

    /** Closes the connection (the client sees end of stream); the listening socket stays. */
    void disconnect() throws Exception {
        channel().close();
    }

    @Override
    public void close() throws IOException {
        server.close();
        if (connection.isDone() && !connection.isCompletedExceptionally()) {
            connection.join().close();
        } else {
            connection.cancel(true);
        }
        acceptor.shutdownNow();
        try {
            acceptor.awaitTermination(5, TimeUnit.SECONDS);
            if (readerThread != null) {
                readerThread.join(5000);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Files.deleteIfExists(path);
    }

    /** Plays the guest agent's side of a resync: expects 0xFF and guest-sync-delimited, answers it. */
    void answerAgentSync() throws Exception {
        org.assertj.core.api.Assertions.assertThat(receive().asText()).as("a 0xFF byte resets the agent's parser")
                .isEqualTo("<0xFF>");
        JsonNode sync = receive();
        org.assertj.core.api.Assertions.assertThat(sync.path("execute").asText()).isEqualTo("guest-sync-delimited");
        sendRaw(new byte[] {(byte) 0xFF});
        send("{\"return\": " + sync.path("arguments").path("id").asLong() + "}");
    }

    /** A guest agent client connected to this peer (which answers its first resync). */
    GuestAgentClient connectAgent(Duration timeout) throws Exception {
        CompletableFuture<GuestAgentClient> client = CompletableFuture.supplyAsync(() -> {
            try {
                return GuestAgentClient.connect(path(), timeout);
            } catch (QmpException e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        });
        answerAgentSync();
        return client.get(10, TimeUnit.SECONDS);
    }
}
