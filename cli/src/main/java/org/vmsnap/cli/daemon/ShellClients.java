package org.vmsnap.cli.daemon;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * The launcher's own client of the daemon, without a JVM at all: bash cannot reach a UNIX socket,
 * but it can open FIFOs and read counted bytes from them with builtins only, so a forwarded command
 * costs the launcher's few milliseconds instead of a client JVM's ~40 ms (bench/RESULTS.md, stop 24).
 * <p>Request: the launcher makes its reply FIFO {@code <key>.reply.<pid>.<n>} (mode 0600) beside the
 * requests FIFO {@code <key>.fifo} in vmsnap's private run root and opens it read-write (an open that
 * never blocks), writes the request into {@code <reply FIFO>.req} ({@code "vmsnap 1 N\n"} then N
 * fields, each {@code "<byte length>\n<bytes>\n"}: the reply FIFO, the folder, {@code VMSNAP_HOME},
 * {@code XDG_RUNTIME_DIR}, {@code TZ}, then the arguments), and then writes the reply FIFO's path
 * as one line into the requests FIFO. One short line is one write, which the pipe keeps whole among
 * concurrent clients' lines; bash's stdout is line-buffered, so a request of several lines would be
 * several writes that other clients' could interleave with.
 * <p>Answer, on the reply FIFO: frames of a 12-byte header (a type letter and the payload's length
 * in 11 decimal digits) and the payload: {@code D} (declined: run it yourself), or {@code A} then
 * {@code O}/{@code E} output (NUL bytes dropped: bash cannot hold them) and one {@code X} with the
 * exit code in decimal.
 * <p>Who runs the command is decided by one rename: before answering {@code A} the daemon renames
 * the reply FIFO to {@code .taken}. A client that waited too long removes its FIFO and runs the
 * command itself only when that removal succeeds, so a command never runs twice. After {@code A}
 * the daemon holds the FIFO write-only; a client that is gone makes its writes fail (EPIPE) and
 * never blocks the command, and a daemon that is gone gives its client end of file.
 */
final class ShellClients implements Closeable {
    /** Answer frames' header: a type letter and 11 digits. */
    static final int HEADER = 12;
    private static final int MAX_HEADER_LINE = 64;
    /** A line on the requests FIFO: a reply FIFO's path. */
    private static final int MAX_POINTER = 4096;
    private static final int MAX_REQUEST = 8 << 20;
    private static final int MAX_FIELD = 1 << 20;
    private static final Pattern REPLY = Pattern.compile("\\.reply\\.[0-9]{1,10}\\.[0-9]{1,10}");
    /** A reply FIFO older than this at start belongs to a client that died, not to one that waits. */
    private static final Duration STALE_REPLY = Duration.ofMinutes(1);

    private final CliDaemon daemon;
    private final Path fifo;
    private final String key;
    private final Object fifoInode;
    private final FileChannel requests;
    private final Consumer<String> log;
    private final Thread reader;

    private ShellClients(CliDaemon daemon, Path fifo, Object fifoInode, FileChannel requests, Consumer<String> log) {
        this.daemon = daemon;
        this.fifo = fifo;
        this.key = keyOf(fifo);
        this.fifoInode = fifoInode;
        this.requests = requests;
        this.log = log;
        this.reader = Thread.ofPlatform().name("vmsnap-daemon-fifo").daemon().unstarted(this::readLoop);
    }

    /** The requests FIFO beside a daemon's socket: the same name ending in {@code .fifo}. */
    static Path fifoBeside(Path socket) {
        String name = socket.getFileName().toString();
        return socket.resolveSibling(name.substring(0, name.length() - ".sock".length()) + ".fifo");
    }

    private static String keyOf(Path fifo) {
        String name = fifo.getFileName().toString();
        return name.substring(0, name.length() - ".fifo".length());
    }

    /**
     * Makes the requests FIFO beside {@code socket} and serves it. A FIFO left there by a dead daemon
     * (the caller found its socket dead or missing) is replaced, and reply FIFOs of clients that died
     * long ago are removed: nothing else writes names of that shape into the private run root.
     */
    static ShellClients start(CliDaemon daemon, Path socket, Consumer<String> log) throws IOException {
        Path fifo = fifoBeside(socket);
        if (Files.exists(fifo, LinkOption.NOFOLLOW_LINKS)) {
            if (!isFifo(fifo)) {
                throw new IOException(fifo + ": exists and is not a FIFO; vmsnap leaves it (remove it by hand)");
            }
            Files.delete(fifo);
        }
        removeStaleReplies(fifo);
        mkfifo(fifo);
        Object inode = Files.getAttribute(fifo, "unix:ino", LinkOption.NOFOLLOW_LINKS);
        // Read-write: the daemon is then a writer too, so its reads never see end of file when the
        // last client closes, and the open does not wait for one.
        FileChannel ch = FileChannel.open(fifo, StandardOpenOption.READ, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS);
        ShellClients s = new ShellClients(daemon, fifo, inode, ch, log);
        s.reader.start();
        return s;
    }

    Path fifo() {
        return fifo;
    }

    private static boolean isFifo(Path p) throws IOException {
        return "p".equals(type(p));
    }

    /** "p" for a FIFO (the JDK has no file type for it: {@code unix:mode}'s type bits say). */
    private static String type(Path p) throws IOException {
        int mode = (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        return (mode & 0170000) == 0010000 ? "p" : "?";
    }

    private static void removeStaleReplies(Path fifo) throws IOException {
        String key = keyOf(fifo);
        Instant old = Instant.now().minus(STALE_REPLY);
        try (var names = Files.newDirectoryStream(fifo.getParent(), key + ".reply.*")) {
            for (Path p : names) {
                try {
                    FileTime t = Files.getLastModifiedTime(p, LinkOption.NOFOLLOW_LINKS);
                    boolean ours = "p".equals(type(p)) || p.getFileName().toString().endsWith(".req")
                            && Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS);
                    if (t.toInstant().isBefore(old) && ours) {
                        Files.deleteIfExists(p);
                    }
                } catch (IOException e) {
                    // gone already, or not ours to judge: left
                }
            }
        }
    }

    /** mkfifo(1): the JDK cannot make a FIFO. Once per daemon start. */
    private static void mkfifo(Path fifo) throws IOException {
        Process p = new ProcessBuilder("mkfifo", "-m", "600", "--", fifo.toString()).redirectErrorStream(true).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        try {
            if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroyForcibly();
                throw new IOException("mkfifo " + fifo + " failed: " + out);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new IOException("mkfifo " + fifo + " interrupted", e);
        }
    }

    private void readLoop() {
        InputStream in = new BufferedInputStream(Channels.newInputStream(requests));
        while (requests.isOpen()) {
            String reply;
            try {
                reply = line(in, MAX_POINTER);
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                if (!requests.isOpen()) {
                    return;
                }
                // Only this user writes here, and the launcher writes one short line at a time:
                // drop what is buffered and read on. A client whose line was dropped runs the
                // command itself (it waits a few seconds, then removes its reply FIFO).
                log.accept("a bad request on " + fifo + ": " + e.getMessage());
                in = new BufferedInputStream(Channels.newInputStream(requests));
                continue;
            }
            Thread.ofPlatform().name("vmsnap-daemon-client").daemon().start(() -> serve(reply));
        }
    }

    /** One request's fields, or an IOException naming what is wrong with it. */
    static List<String> readRequest(InputStream in) throws IOException {
        String head = line(in, MAX_HEADER_LINE);
        String[] words = head.split(" ");
        if (words.length != 3 || !words[0].equals("vmsnap") || !words[1].equals("1")) {
            throw new IOException("not a vmsnap request of version 1: \"" + head + "\"");
        }
        int n = number(words[2], 5 + ForwardProtocol.MAX_ARGS, "field count");
        if (n < 5) {
            throw new IOException("a request of " + n + " fields");
        }
        List<String> fields = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int len = number(line(in, 16), MAX_FIELD, "field length");
            byte[] b = in.readNBytes(len);
            if (b.length != len) {
                throw new EOFException("the request ended inside a field");
            }
            if (in.read() != '\n') {
                throw new IOException("field " + i + " is longer than its length " + len);
            }
            fields.add(new String(b, StandardCharsets.UTF_8));
        }
        return fields;
    }

    private static String line(InputStream in, int max) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        while (true) {
            int c = in.read();
            if (c < 0) {
                throw new EOFException("the request ended inside a line");
            }
            if (c == '\n') {
                return b.toString(StandardCharsets.UTF_8);
            }
            if (b.size() >= max) {
                String start = b.toString(StandardCharsets.UTF_8);
                throw new IOException("a line longer than " + max + " bytes (\"" + start.substring(0, Math.min(40, start.length()))
                        + "...\")");
            }
            b.write(c);
        }
    }

    private static int number(String s, int max, String what) throws IOException {
        if (!s.matches("[0-9]{1,10}")) {
            throw new IOException("bad " + what + " \"" + s + "\"");
        }
        long v = Long.parseLong(s);
        if (v > max) {
            throw new IOException(what + " " + v + " is over " + max);
        }
        return (int) v;
    }

    private void serve(String name) {
        Path reply = replyPath(name);
        if (reply == null) {
            log.accept("a request with a bad reply FIFO: " + name);
            return;
        }
        List<String> fields;
        try {
            fields = readRequest(takeRequestFile(reply));
            if (!fields.getFirst().equals(name)) {
                throw new IOException("it names another reply FIFO");
            }
        } catch (IOException e) {
            log.accept("a bad request " + reply + ".req: " + e.getMessage());
            return;
        }
        ForwardProtocol.Request r = new ForwardProtocol.Request(fields.get(1), fields.get(2), fields.get(3), fields.get(4),
                fields.subList(5, fields.size()).toArray(String[]::new));
        try (FifoAnswer a = new FifoAnswer(reply)) {
            daemon.answer(r, daemon.refusal(r), a);
        } catch (IOException e) {
            log.accept("a client went away: " + e.getMessage());
        }
    }

    /**
     * The request beside the reply FIFO, read and removed: a regular file of this user's (the
     * launcher writes it before it names the FIFO on the requests FIFO).
     */
    private static InputStream takeRequestFile(Path reply) throws IOException {
        Path req = reply.resolveSibling(reply.getFileName() + ".req");
        try (FileChannel ch = FileChannel.open(req, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            var attrs = Files.readAttributes(req, java.nio.file.attribute.PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (!attrs.isRegularFile() || attrs.size() > MAX_REQUEST) {
                throw new IOException("not a regular file of at most " + MAX_REQUEST + " bytes");
            }
            ByteBuffer b = ByteBuffer.allocate((int) attrs.size());
            while (b.hasRemaining() && ch.read(b) >= 0) {
                // read on
            }
            return new java.io.ByteArrayInputStream(b.array(), 0, b.position());
        } finally {
            Files.deleteIfExists(req);
        }
    }

    /** The reply FIFO a request names, when it is one a client of this daemon made; else null. */
    private Path replyPath(String name) {
        Path p;
        try {
            p = Path.of(name);
        } catch (java.nio.file.InvalidPathException e) {
            return null;
        }
        String file = p.getFileName() == null ? "" : p.getFileName().toString();
        if (!p.isAbsolute() || !fifo.getParent().equals(p.getParent()) || !file.startsWith(key)
                || !REPLY.matcher(file.substring(key.length())).matches()) {
            return null;
        }
        try {
            return "p".equals(type(p)) ? p : null;
        } catch (IOException e) {
            return null; // the client gave up and removed it
        }
    }

    @Override
    public void close() throws IOException {
        requests.close();
        try {
            reader.join(Duration.ofSeconds(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        // Only what is still this daemon's: a newer daemon may have replaced a FIFO it found dead.
        try {
            if (fifoInode.equals(Files.getAttribute(fifo, "unix:ino", LinkOption.NOFOLLOW_LINKS))) {
                Files.delete(fifo);
            }
        } catch (NoSuchFileException e) {
            // gone already
        }
    }

    /** One client's answer on its reply FIFO, in the frames the launcher reads with bash builtins. */
    static final class FifoAnswer implements CliDaemon.Answer, Closeable {
        private final Path reply;
        private FileChannel out;

        FifoAnswer(Path reply) {
            this.reply = reply;
        }

        @Override
        public void declined(String why) throws IOException {
            // Read-write: an open that never waits, even when the client is gone.
            out = FileChannel.open(reply, StandardOpenOption.READ, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS);
            send('D', why.getBytes(StandardCharsets.UTF_8), 0, -1);
        }

        @Override
        public boolean accepted() throws IOException {
            Path taken = reply.resolveSibling(reply.getFileName() + ".taken");
            try {
                Files.move(reply, taken, StandardCopyOption.ATOMIC_MOVE);
            } catch (NoSuchFileException e) {
                return false; // the client removed it: it runs the command itself
            }
            // Write-only, so that a client that goes makes the writes fail instead of filling the
            // pipe and blocking the command; opened while a read-write end keeps it from waiting.
            try (FileChannel rw = FileChannel.open(taken, StandardOpenOption.READ, StandardOpenOption.WRITE,
                    LinkOption.NOFOLLOW_LINKS)) {
                out = FileChannel.open(taken, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS);
            } finally {
                Files.deleteIfExists(taken); // both ends keep it; nothing else needs its name
            }
            send('A', new byte[0], 0, 0);
            return true;
        }

        @Override
        public void output(byte type, byte[] b, int off, int len) throws IOException {
            send(type == ForwardProtocol.OUT ? 'O' : 'E', b, off, len);
        }

        @Override
        public void exit(int code) throws IOException {
            send('X', Integer.toString(code).getBytes(StandardCharsets.US_ASCII), 0, -1);
        }

        /** A frame in one write when it fits in a pipe's buffer; {@code len} -1: the whole array. */
        private synchronized void send(char type, byte[] b, int off, int len) throws IOException {
            byte[] payload = withoutNul(b, off, len < 0 ? b.length - off : len);
            ByteBuffer buf = ByteBuffer.allocate(HEADER + payload.length);
            buf.put(String.format("%c%011d", type, payload.length).getBytes(StandardCharsets.US_ASCII)).put(payload).flip();
            while (buf.hasRemaining()) {
                out.write(buf);
            }
        }

        private static byte[] withoutNul(byte[] b, int off, int len) {
            byte[] copy = Arrays.copyOfRange(b, off, off + len);
            int n = 0;
            for (byte x : copy) {
                if (x != 0) {
                    copy[n++] = x;
                }
            }
            return n == copy.length ? copy : Arrays.copyOf(copy, n);
        }

        @Override
        public void close() throws IOException {
            if (out != null) {
                out.close();
            }
        }
    }
}
