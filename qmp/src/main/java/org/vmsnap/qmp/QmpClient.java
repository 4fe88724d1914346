package org.vmsnap.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * A connection to QEMU's QMP monitor on a UNIX socket.
 *
 * <p>One reader thread per connection reads every message and routes it: replies to the
 * pending command with the same {@code id} (every command is sent with a fresh id, so a
 * reply is never matched by position), events to the subscribers. Commands may be sent
 * from any thread. When the connection drops, every pending command and every event
 * stream fails with a {@link QmpDisconnectedException}; nothing waits forever.
 *
 * <p>Subscribers run on the reader thread: they must not block (hand work to a queue, as
 * {@link #events} does).
 */
public final class QmpClient implements AutoCloseable {

    private static final String THREAD_PREFIX = "vmsnap-qmp-reader ";

    private final SocketChannel channel;
    private final Path socket;
    private final String peer;
    private final Object writeLock = new Object();
    private final AtomicLong nextId = new AtomicLong(1);
    private final Map<String, Pending> pending = new ConcurrentHashMap<>();
    private final List<Consumer<QmpEvent>> subscribers = new CopyOnWriteArrayList<>();
    private final List<EventStream> streams = new CopyOnWriteArrayList<>();
    private final CompletableFuture<JsonNode> greeting = new CompletableFuture<>();
    private final AtomicReference<QmpException> failure = new AtomicReference<>();
    private final Thread reader;

    private record Pending(String command, CompletableFuture<JsonNode> future) {
    }

    private QmpClient(SocketChannel channel, Path socket) {
        this.channel = channel;
        this.socket = socket;
        this.peer = "QMP socket " + socket;
        this.reader = Thread.ofPlatform().daemon().name(THREAD_PREFIX + socket).unstarted(this::readLoop);
    }

    /**
     * Connects, reads the greeting and negotiates capabilities (leaves capabilities
     * negotiation mode), each step within {@code timeout}.
     *
     * @throws QmpConnectException when the socket is missing, refuses, or never greets
     */
    public static QmpClient connect(Path socket, Duration timeout) throws QmpException {
        SocketChannel channel = null;
        try {
            channel = SocketChannel.open(StandardProtocolFamily.UNIX);
            channel.connect(UnixDomainSocketAddress.of(socket));
        } catch (IOException e) {
            closeQuietly(channel);
            throw new QmpConnectException("cannot connect to QMP socket " + socket + ": " + e.getMessage(), e);
        }
        QmpClient client = new QmpClient(channel, socket);
        client.reader.start();
        try {
            client.await(client.greeting, "the QMP greeting", timeout);
            client.execute("qmp_capabilities", null, timeout);
            return client;
        } catch (QmpException e) {
            client.close();
            if (e instanceof QmpTimeoutException || e instanceof QmpDisconnectedException) {
                throw new QmpConnectException(socket + " accepted the connection but did not speak QMP: " + e.getMessage(), e);
            }
            throw e;
        }
    }

    /** A fresh, empty arguments object for {@link #execute}. */
    public static ObjectNode arguments() {
        return Json.object();
    }

    /** The socket this client is connected to. */
    public Path socket() {
        return socket;
    }

    /** The greeting's {@code QMP} member: {@code version} and {@code capabilities}. */
    public JsonNode greeting() {
        return greeting.getNow(null);
    }

    /** Whether the connection is still open (no disconnect, no protocol error, not closed). */
    public boolean isConnected() {
        return failure.get() == null;
    }

    /**
     * Runs {@code command} and waits at most {@code timeout} for its reply.
     *
     * @param arguments the {@code arguments} object, or null for none
     * @return the reply's {@code return} member
     * @throws QmpCommandException      when QEMU answers with an error (its class is kept)
     * @throws QmpTimeoutException      when no reply came in time (a late reply is dropped)
     * @throws QmpDisconnectedException when the connection dropped first
     */
    public JsonNode execute(String command, JsonNode arguments, Duration timeout) throws QmpException {
        return await(executeAsync(command, arguments), "the reply to '" + command + "'", timeout);
    }

    /**
     * Waits for the reply of a command sent with {@link #executeAsync(String, JsonNode)}: what
     * {@link #execute} would have returned or thrown. Several commands may be sent before the
     * first reply is awaited: QEMU runs them one after another, in order.
     */
    public JsonNode reply(CompletableFuture<JsonNode> sent, String command, Duration timeout) throws QmpException {
        return await(sent, "the reply to '" + command + "'", timeout);
    }

    /**
     * Sends {@code command} and returns at once. The future completes with the reply's
     * {@code return} member, or exceptionally with a {@link QmpException}. Cancelling it
     * forgets the command; QEMU still runs it.
     */
    public CompletableFuture<JsonNode> executeAsync(String command, JsonNode arguments) {
        Objects.requireNonNull(command, "command");
        String id = "vmsnap-" + nextId.getAndIncrement();
        CompletableFuture<JsonNode> future = new CompletableFuture<>();
        future.whenComplete((r, e) -> pending.remove(id));
        pending.put(id, new Pending(command, future));
        // Registered before the failure check: a concurrent shutdown either sees this entry
        // or has already set the failure that we read here.
        QmpException failed = failure.get();
        if (failed != null) {
            future.completeExceptionally(disconnected(command, failed));
            return future;
        }
        ObjectNode message = Json.object().put("execute", command);
        if (arguments != null) {
            message.set("arguments", arguments);
        }
        message.put("id", id);
        try {
            send(message);
        } catch (IOException e) {
            QmpDisconnectedException lost = new QmpDisconnectedException(
                    "cannot send '" + command + "' to " + peer + ": " + e.getMessage(), e);
            shutdown(lost);
            future.completeExceptionally(lost);
        }
        return future;
    }

    /**
     * Like {@link #executeAsync(String, JsonNode)}, but the future fails with a
     * {@link QmpTimeoutException} when no reply came within {@code timeout}.
     */
    public CompletableFuture<JsonNode> executeAsync(String command, JsonNode arguments, Duration timeout) {
        CompletableFuture<JsonNode> future = executeAsync(command, arguments);
        CompletableFuture.delayedExecutor(timeout.toNanos(), TimeUnit.NANOSECONDS).execute(() -> future.completeExceptionally(
                new QmpTimeoutException("no reply to '" + command + "' from " + peer + " within " + timeout)));
        return future;
    }

    /**
     * Calls {@code subscriber} on the reader thread for every event until the returned
     * handle is closed. It must not block; exceptions it throws are dropped.
     */
    public Subscription subscribe(Consumer<QmpEvent> subscriber) {
        Objects.requireNonNull(subscriber, "subscriber");
        subscribers.add(subscriber);
        return () -> subscribers.remove(subscriber);
    }

    /**
     * Starts collecting the events that match {@code filter}. Open the stream before the
     * command that causes the events, so none can slip past between the two.
     */
    public EventStream events(Predicate<QmpEvent> filter) {
        EventStream stream = new EventStream(filter);
        streams.add(stream);
        QmpException failed = failure.get();
        if (failed != null) {
            stream.end(failed);
        }
        return stream;
    }

    /** Waits for the next event (from now on) that matches {@code filter}. */
    public QmpEvent waitForEvent(Predicate<QmpEvent> filter, Duration timeout) throws QmpException {
        try (EventStream stream = events(filter)) {
            return stream.next(timeout);
        }
    }

    /**
     * Closes the connection: pending commands and event streams fail with a
     * {@link QmpDisconnectedException}, and the reader thread is gone when this returns.
     * QEMU keeps running.
     */
    @Override
    public void close() {
        shutdown(new QmpDisconnectedException(peer + " was closed by this client", null));
        if (Thread.currentThread() != reader) {
            Uninterruptibly.join(reader);
        }
    }

    /** Ends a {@link #subscribe subscription}. */
    @FunctionalInterface
    public interface Subscription extends AutoCloseable {
        @Override
        void close();
    }

    /** Matching events, queued by the reader thread until taken; see {@link #events}. */
    public final class EventStream implements AutoCloseable {

        private final Predicate<QmpEvent> filter;
        private final LinkedBlockingQueue<Object> queue = new LinkedBlockingQueue<>();

        private EventStream(Predicate<QmpEvent> filter) {
            this.filter = Objects.requireNonNull(filter, "filter");
        }

        private void offer(QmpEvent event) {
            if (filter.test(event)) {
                queue.add(event);
            }
        }

        private void end(QmpException cause) {
            queue.add(cause);
        }

        /**
         * The next matching event, waiting at most {@code timeout}.
         *
         * @throws QmpTimeoutException      when none came in time
         * @throws QmpDisconnectedException when the connection dropped first (events that
         *                                  arrived before the drop are still returned first)
         */
        public QmpEvent next(Duration timeout) throws QmpException {
            Object item;
            try {
                item = queue.poll(timeout.toNanos(), TimeUnit.NANOSECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new QmpTimeoutException("interrupted while waiting for an event from " + peer);
            }
            if (item == null) {
                throw new QmpTimeoutException("no matching event from " + peer + " within " + timeout);
            }
            if (item instanceof QmpException cause) {
                queue.add(cause); // every later call fails the same way
                throw new QmpDisconnectedException(peer + " closed while waiting for an event: " + cause.getMessage(), cause);
            }
            return (QmpEvent) item;
        }

        /**
         * The next matching event that has already arrived, or null: no waiting.
         *
         * @throws QmpDisconnectedException when the connection dropped (after the events before it)
         */
        public QmpEvent poll() throws QmpException {
            Object item = queue.poll();
            if (item == null && failure.get() != null) {
                // Gone, but the shutdown (on another thread) may not have reached this stream yet:
                // every event before the drop is queued already, so the answer is the drop.
                item = failure.get();
            }
            if (item instanceof QmpException cause) {
                queue.add(cause);
                throw new QmpDisconnectedException(peer + " closed: " + cause.getMessage(), cause);
            }
            return (QmpEvent) item;
        }

        @Override
        public void close() {
            streams.remove(this);
        }
    }

    // --- reader thread ------------------------------------------------------------------

    /**
     * Replies read but not yet handed to their callers (reader thread only). A reply is handed over
     * once the reader has dispatched every line it already holds (Frames runs this before each read,
     * which may block): QEMU sends a job's reply and its events in one write, and a caller woken by
     * the reply before the events are queued waited for the reader to get a core again (90-190 ms
     * on two busy cores, inside a revert's pause).
     */
    private final List<Runnable> heldReplies = new ArrayList<>();

    private void handOverReplies() {
        for (Runnable r : heldReplies) {
            r.run();
        }
        heldReplies.clear();
    }

    private void readLoop() {
        Frames frames = new Frames(channel, Frames.MAX_LINE_BYTES, this::handOverReplies);
        try {
            Frames.Frame frame;
            while ((frame = frames.next()) != null) {
                switch (frame) {
                    case Frames.Line line -> dispatch(Json.parseObject(line.text(), peer));
                    case Frames.Delimiter d -> throw new QmpProtocolException(peer + " sent a 0xFF byte, which is not QMP");
                    case Frames.Overlong o -> throw new QmpProtocolException(peer + " sent a line longer than "
                            + o.limit() + " bytes");
                }
            }
            handOverReplies();
            shutdown(new QmpDisconnectedException(peer + " closed the connection (QEMU exited?)", null));
        } catch (QmpException e) {
            handOverReplies();
            shutdown(e);
        } catch (IOException e) {
            handOverReplies();
            shutdown(new QmpDisconnectedException("lost the connection to " + peer + ": " + e.getMessage(), e));
        } catch (RuntimeException e) {
            handOverReplies();
            shutdown(new QmpProtocolException("cannot handle a message from " + peer + ": " + e, e));
        }
    }

    private void dispatch(ObjectNode message) throws QmpException {
        if (message.has("QMP")) {
            if (greeting.isDone()) {
                throw new QmpProtocolException(peer + " greeted twice: " + Json.abbreviate(message.toString()));
            }
            greeting.complete(message.get("QMP"));
            return;
        }
        if (!greeting.isDone()) {
            throw new QmpProtocolException(peer + " sent a message before its greeting: " + Json.abbreviate(message.toString()));
        }
        if (message.has("event")) {
            QmpEvent event = QmpEvent.of(message);
            for (EventStream stream : streams) {
                stream.offer(event);
            }
            for (Consumer<QmpEvent> subscriber : subscribers) {
                try {
                    subscriber.accept(event);
                } catch (RuntimeException ignored) {
                    // a faulty subscriber must not stop the routing of replies
                }
            }
            return;
        }
        boolean isError = message.has("error");
        if (!isError && !message.has("return")) {
            throw new QmpProtocolException(peer + " sent a message that is neither reply nor event: "
                    + Json.abbreviate(message.toString()));
        }
        JsonNode id = message.get("id");
        if (id == null) {
            if (!isError) {
                throw new QmpProtocolException(peer + " sent a reply without id: " + Json.abbreviate(message.toString()));
            }
            // QEMU could not even read the request's id (the request was not valid JSON or
            // not an object). Which one is unknown, so every pending command fails with it.
            for (Pending p : List.copyOf(pending.values())) {
                p.future().completeExceptionally(commandError(p.command(), message.get("error"), " (reply without id)"));
            }
            return;
        }
        Pending p = pending.get(id.asText());
        if (p == null) {
            return; // the caller gave up waiting (timeout or cancel): the late reply is dropped
        }
        if (isError) {
            QmpCommandException error = commandError(p.command(), message.get("error"), "");
            heldReplies.add(() -> p.future().completeExceptionally(error));
        } else {
            JsonNode value = message.get("return");
            heldReplies.add(() -> p.future().complete(value));
        }
    }

    private static QmpCommandException commandError(String command, JsonNode error, String note) {
        return new QmpCommandException(command, error.path("class").asText("GenericError"),
                error.path("desc").asText("(no description)") + note);
    }

    // --- plumbing -----------------------------------------------------------------------

    private void send(ObjectNode message) throws IOException {
        ByteBuffer bytes = ByteBuffer.wrap((Json.write(message) + "\n").getBytes(StandardCharsets.UTF_8));
        synchronized (writeLock) {
            while (bytes.hasRemaining()) {
                channel.write(bytes);
            }
        }
    }

    /** Ends the connection once: first cause wins; pending calls and event streams fail. */
    private void shutdown(QmpException cause) {
        if (!failure.compareAndSet(null, cause)) {
            return;
        }
        closeQuietly(channel);
        greeting.completeExceptionally(cause);
        for (Pending p : List.copyOf(pending.values())) {
            p.future().completeExceptionally(disconnected(p.command(), cause));
        }
        for (EventStream stream : streams) {
            stream.end(cause);
        }
    }

    private QmpException disconnected(String command, QmpException cause) {
        if (cause instanceof QmpProtocolException) {
            return new QmpProtocolException(cause.getMessage() + " (while waiting for the reply to '" + command + "')", cause);
        }
        return new QmpDisconnectedException(peer + " closed while waiting for the reply to '" + command + "': "
                + cause.getMessage(), cause);
    }

    private JsonNode await(CompletableFuture<JsonNode> future, String what, Duration timeout) throws QmpException {
        try {
            return future.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            future.cancel(false);
            throw new QmpTimeoutException("no " + what + " from " + peer + " within " + timeout);
        } catch (InterruptedException e) {
            future.cancel(false);
            Thread.currentThread().interrupt();
            throw new QmpTimeoutException("interrupted while waiting for " + what + " from " + peer);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof QmpException q) {
                throw q;
            }
            throw new QmpProtocolException("unexpected failure waiting for " + what + " from " + peer, e.getCause());
        }
    }

    private static void closeQuietly(SocketChannel channel) {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // closing is best effort; the reader sees the channel closed either way
            }
        }
    }
}
