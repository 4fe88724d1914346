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
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A connection to the QEMU guest agent through the host end of its virtio-serial port
 * (a UNIX socket that QEMU serves).
 *
 * <p>The agent has no request ids: an answer belongs to whichever request it last read.
 * So requests go one at a time, and before the first one, and after any call that timed
 * out or got garbage, the client resynchronises: it sends a 0xFF byte (which resets the
 * agent's JSON parser), then {@code guest-sync-delimited} with a random id, throws away
 * everything up to the agent's 0xFF delimiter, and accepts only the answer with its id.
 * QEMU accepts connections on that socket even when no agent runs in the guest, so "no
 * answer" is the only sign of a missing agent; every call has a timeout.
 *
 * <p>One reader thread per connection turns the byte stream into frames for the caller.
 *
 * <p>Whoever runs the guest controls what the agent sends, so nothing it sends may hang
 * vmsnap or exhaust its memory: every call ends by its deadline however slowly or endlessly
 * the agent answers; a line longer than {@link #MAX_LINE_BYTES} is skipped, not kept (the
 * call fails and the next one resynchronises); and at most {@link #MAX_QUEUED_FRAMES}
 * frames wait for the caller (the reader stops reading while the queue is full, so an agent
 * that floods fills its own socket buffer, not our heap). Memory per client is thus bounded
 * by about {@code MAX_QUEUED_FRAMES * MAX_LINE_BYTES * 2} (UTF-16 strings), 34 MiB.
 */
public final class GuestAgentClient implements AutoCloseable {

    private static final String THREAD_PREFIX = "vmsnap-qga-reader ";

    /**
     * The longest answer line kept: 1 MiB. The largest answer vmsnap asks for,
     * {@code guest-get-fsinfo}, is a few hundred bytes per filesystem.
     */
    static final int MAX_LINE_BYTES = 1 << 20;

    /** Frames read ahead of the caller at most (see the class comment). */
    static final int MAX_QUEUED_FRAMES = 16;

    private final SocketChannel channel;
    private final Path socket;
    private final String peer;
    private final Duration timeout;
    private final LinkedBlockingQueue<Object> frames = new LinkedBlockingQueue<>(MAX_QUEUED_FRAMES);
    private final ReentrantLock oneAtATime = new ReentrantLock();
    private final SecureRandom random = new SecureRandom();
    private final Thread reader;
    private volatile boolean closed;
    private boolean synced;

    /** What {@code guest-info} says: the agent's version and its enabled commands. */
    public record AgentInfo(String version, List<String> enabledCommands) {
        public AgentInfo {
            enabledCommands = List.copyOf(enabledCommands);
        }
    }

    /**
     * The outcome of {@link #whileFrozen}: the action's result, how many filesystems the
     * freeze covered, and the thaw's failure if it failed (then the guest may be frozen).
     */
    public record Frozen<T>(T result, int frozenFilesystems, GuestThawException thawFailure) {

        /** Whether the guest was thawed. */
        public boolean thawed() {
            return thawFailure == null;
        }

        /** The result, or the thaw failure thrown. */
        public T requireThawed() throws GuestThawException {
            if (thawFailure != null) {
                throw thawFailure;
            }
            return result;
        }
    }

    /** An action that runs while the guest's filesystems are frozen. */
    @FunctionalInterface
    public interface FrozenAction<T, X extends Exception> {
        T run() throws X;
    }

    private GuestAgentClient(SocketChannel channel, Path socket, Duration timeout) {
        this.channel = channel;
        this.socket = socket;
        this.peer = "guest agent at " + socket;
        this.timeout = timeout;
        this.reader = Thread.ofPlatform().daemon().name(THREAD_PREFIX + socket).unstarted(this::readLoop);
    }

    /**
     * Connects and synchronises with the agent.
     *
     * @param timeout the limit for every call on this client
     * @throws QmpConnectException when the socket is missing or refuses
     * @throws QmpTimeoutException when no agent answers ("no guest agent responded")
     */
    public static GuestAgentClient connect(Path socket, Duration timeout) throws QmpException {
        Objects.requireNonNull(timeout, "timeout");
        SocketChannel channel = null;
        try {
            channel = SocketChannel.open(StandardProtocolFamily.UNIX);
            channel.connect(UnixDomainSocketAddress.of(socket));
        } catch (IOException e) {
            if (channel != null) {
                try {
                    channel.close();
                } catch (IOException ignored) {
                    // nothing more to do
                }
            }
            throw new QmpConnectException("cannot connect to guest agent socket " + socket + ": " + e.getMessage(), e);
        }
        GuestAgentClient client = new GuestAgentClient(channel, socket, timeout);
        client.reader.start();
        try {
            client.oneAtATime.lock();
            try {
                client.sync();
            } finally {
                client.oneAtATime.unlock();
            }
            return client;
        } catch (QmpException e) {
            client.close();
            throw e;
        }
    }

    /** {@code guest-ping}: the agent answers. */
    public void ping() throws QmpException {
        call("guest-ping", null);
    }

    /** {@code guest-info}. */
    public AgentInfo info() throws QmpException {
        JsonNode info = call("guest-info", null);
        List<String> enabled = new ArrayList<>();
        for (JsonNode command : info.path("supported_commands")) {
            if (command.path("enabled").asBoolean(false)) {
                enabled.add(command.path("name").asText());
            }
        }
        return new AgentInfo(info.path("version").asText(), enabled);
    }

    /** {@code guest-fsfreeze-status}: "thawed" or "frozen". */
    public String fsfreezeStatus() throws QmpException {
        return call("guest-fsfreeze-status", null).asText();
    }

    /** {@code guest-fsfreeze-freeze}: freezes every freezable filesystem; returns how many. */
    public int fsfreezeFreeze() throws QmpException {
        return call("guest-fsfreeze-freeze", null).asInt();
    }

    /** {@code guest-fsfreeze-freeze-list}: freezes the filesystems mounted at {@code mountpoints}. */
    public int fsfreezeFreezeList(List<String> mountpoints) throws QmpException {
        ObjectNode args = Json.object();
        mountpoints.forEach(args.putArray("mountpoints")::add);
        return call("guest-fsfreeze-freeze-list", args).asInt();
    }

    /** {@code guest-fsfreeze-thaw}: thaws everything; returns how many filesystems it thawed. */
    public int fsfreezeThaw() throws QmpException {
        return call("guest-fsfreeze-thaw", null).asInt();
    }

    /**
     * Thaws the guest if it is frozen, e.g. by a vmsnap process that died between freeze
     * and thaw. Returns whether it was frozen.
     */
    public boolean thawIfFrozen() throws QmpException {
        if (!fsfreezeStatus().equals("frozen")) {
            return false;
        }
        fsfreezeThaw();
        return true;
    }

    /**
     * Freezes the guest's filesystems ({@code mountpoints}, or all when null), runs
     * {@code action}, and thaws, whatever happened.
     *
     * <ul>
     *   <li>The action succeeded: its result comes back in {@link Frozen}, with the thaw's
     *       failure if the thaw failed (the action's effect, e.g. a snapshot, exists).</li>
     *   <li>The action threw: its exception is rethrown, with a {@link GuestThawException}
     *       suppressed in it if the thaw failed too.</li>
     *   <li>The freeze failed or timed out: the agent may have frozen some filesystems
     *       before failing, so a thaw is still attempted; the freeze's exception is thrown
     *       (thaw failure suppressed), and the action does not run.</li>
     * </ul>
     */
    public <T, X extends Exception> Frozen<T> whileFrozen(List<String> mountpoints, FrozenAction<T, X> action)
            throws X, QmpException {
        int frozen;
        try {
            frozen = mountpoints == null ? fsfreezeFreeze() : fsfreezeFreezeList(mountpoints);
        } catch (QmpException freezeFailure) {
            GuestThawException thawFailure = thaw("after a failed freeze");
            if (thawFailure != null) {
                freezeFailure.addSuppressed(thawFailure);
            }
            throw freezeFailure;
        }
        T result;
        try {
            result = action.run();
        } catch (Exception | Error actionFailure) {
            GuestThawException thawFailure = thaw("after the action failed");
            if (thawFailure != null) {
                actionFailure.addSuppressed(thawFailure);
            }
            throw actionFailure;
        }
        return new Frozen<>(result, frozen, thaw("after the action"));
    }

    /** Thaws; returns the failure instead of throwing it, so it can be reported alongside. */
    private GuestThawException thaw(String when) {
        try {
            fsfreezeThaw();
            return null;
        } catch (QmpException e) {
            return new GuestThawException("could not thaw the guest " + when + " (it may still be frozen): "
                    + e.getMessage(), e);
        }
    }

    /**
     * Runs one agent command; resynchronises first if needed.
     *
     * @return the answer's {@code return} member
     */
    public JsonNode call(String command, JsonNode arguments) throws QmpException {
        oneAtATime.lock();
        try {
            if (!synced) {
                sync();
            }
            ObjectNode request = Json.object().put("execute", command);
            if (arguments != null) {
                request.set("arguments", arguments);
            }
            drain();
            send(request);
            ObjectNode answer = nextMessage("'" + command + "'", System.nanoTime() + timeout.toNanos());
            if (answer.has("error")) {
                JsonNode error = answer.get("error");
                throw new QmpCommandException(command, error.path("class").asText("GenericError"),
                        error.path("desc").asText("(no description)"));
            }
            if (!answer.has("return")) {
                synced = false;
                throw new QmpProtocolException(peer + " answered '" + command + "' with neither return nor error: "
                        + Json.abbreviate(answer.toString()));
            }
            return answer.get("return");
        } finally {
            oneAtATime.unlock();
        }
    }

    /**
     * Sends a command that answers nothing when it succeeds ({@code guest-shutdown}): only an
     * error comes back, and then only within a moment; silence is success.
     */
    public void callNoReply(String command, JsonNode arguments, Duration errorWindow) throws QmpException {
        oneAtATime.lock();
        try {
            if (!synced) {
                sync();
            }
            ObjectNode request = Json.object().put("execute", command);
            if (arguments != null) {
                request.set("arguments", arguments);
            }
            drain();
            send(request);
            synced = false; // whatever comes later is not an answer to a future call
            Object frame;
            try {
                frame = frames.poll(errorWindow.toNanos(), TimeUnit.NANOSECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            if (frame instanceof Frames.Line line) {
                ObjectNode answer = Json.parseObject(line.text(), peer);
                if (answer.has("error")) {
                    JsonNode error = answer.get("error");
                    throw new QmpCommandException(command, error.path("class").asText("GenericError"),
                            error.path("desc").asText("(no description)"));
                }
            }
            // nothing, a disconnect (the guest is going down) or a stray frame: sent
        } finally {
            oneAtATime.unlock();
        }
    }

    /** Closes the connection; the reader thread is gone when this returns. */
    @Override
    public void close() {
        closed = true;
        try {
            channel.close();
        } catch (IOException ignored) {
            // the reader ends either way
        }
        reader.interrupt(); // it may wait for room in a full queue
        Uninterruptibly.join(reader);
    }

    // --- synchronisation ----------------------------------------------------------------

    /** guest-sync-delimited handshake; on success the next answer is ours. Caller holds the lock. */
    private void sync() throws QmpException {
        long id = random.nextLong(1, 1L << 53); // exact in JSON numbers and in the agent's int64
        long deadline = System.nanoTime() + timeout.toNanos();
        drain();
        sendRaw(new byte[] {Frames.DELIMITER});
        send(Json.object().put("execute", "guest-sync-delimited").set("arguments", Json.object().put("id", id)));
        // Skip to a delimiter, then the line after it must carry our id; an older sync's
        // answer (another id) means: keep going to the next delimiter.
        boolean afterDelimiter = false;
        while (true) {
            Object frame = nextFrame(deadline, "guest-sync-delimited");
            if (frame instanceof Frames.Delimiter) {
                afterDelimiter = true;
            } else if (afterDelimiter && frame instanceof Frames.Line line) {
                afterDelimiter = false;
                ObjectNode answer;
                try {
                    answer = Json.parseObject(line.text(), peer);
                } catch (QmpProtocolException garbage) {
                    continue;
                }
                if (answer.path("return").asLong(-1) == id) {
                    synced = true;
                    return;
                }
            }
        }
    }

    private ObjectNode nextMessage(String what, long deadline) throws QmpException {
        while (true) {
            Object frame = nextFrame(deadline, what);
            if (frame instanceof Frames.Overlong overlong) {
                synced = false;
                throw new QmpProtocolException(peer + " answered " + what + " with a line longer than "
                        + overlong.limit() + " bytes");
            }
            if (frame instanceof Frames.Line line) {
                try {
                    return Json.parseObject(line.text(), peer);
                } catch (QmpProtocolException e) {
                    synced = false;
                    throw e;
                }
            }
            // a stray delimiter (a late guest-sync-delimited answer): not our answer
        }
    }

    private Object nextFrame(long deadline, String what) throws QmpException {
        Object frame;
        try {
            frame = frames.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            synced = false;
            throw new QmpTimeoutException("interrupted while waiting for the " + peer);
        }
        if (frame == null) {
            synced = false;
            throw new QmpTimeoutException("no guest agent responded to " + what + " within " + timeout
                    + " (" + socket + "; is qemu-guest-agent running in the guest?)");
        }
        if (frame instanceof QmpException e) {
            frames.offer(e); // later calls fail the same way (the reader has ended: there is room)
            throw new QmpDisconnectedException(peer + " closed while waiting for " + what + ": " + e.getMessage(), e);
        }
        return frame;
    }

    /** Drops anything left over from an earlier, abandoned call. */
    private void drain() {
        List<Object> stale = new ArrayList<>();
        frames.drainTo(stale);
        stale.stream().filter(f -> f instanceof QmpException).findFirst().ifPresent(frames::offer);
    }

    private void send(ObjectNode request) throws QmpException {
        sendRaw((Json.write(request) + "\n").getBytes(StandardCharsets.UTF_8));
    }

    private void sendRaw(byte[] bytes) throws QmpException {
        ByteBuffer buffer = ByteBuffer.wrap(bytes);
        try {
            while (buffer.hasRemaining()) {
                channel.write(buffer);
            }
        } catch (IOException e) {
            synced = false;
            throw new QmpDisconnectedException("cannot write to " + peer + ": " + e.getMessage(), e);
        }
    }

    /** Runs on the reader thread; waits for room in the queue (close() interrupts the wait). */
    private void readLoop() {
        Frames reading = new Frames(channel, MAX_LINE_BYTES);
        QmpDisconnectedException end;
        try {
            Frames.Frame frame;
            while ((frame = reading.next()) != null) {
                frames.put(frame);
            }
            end = new QmpDisconnectedException(peer + " closed the connection", null);
        } catch (IOException e) {
            end = closed
                    ? new QmpDisconnectedException(peer + " was closed by this client", e)
                    : new QmpDisconnectedException("lost the connection to " + peer + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            return; // close(): nobody waits for frames any more
        }
        try {
            frames.put(end);
        } catch (InterruptedException e) {
            // close(): nobody waits for it
        }
    }
}
