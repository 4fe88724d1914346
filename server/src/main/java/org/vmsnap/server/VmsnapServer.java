package org.vmsnap.server;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.Executors;

import org.vmsnap.manager.DomainService;
import org.vmsnap.manager.InvalidInputException;
import org.vmsnap.manager.ManagerException;
import org.vmsnap.manager.NotFoundException;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;

/**
 * The {@code serve} process's HTTP server: the JDK's {@code HttpServer}, one virtual thread per
 * request, bound to a loopback address; or Jetty on a UNIX socket ({@link UnixListener}), which
 * HttpServer cannot bind. One handler serves both ({@link Exchange}). Every request needs the bearer token of
 * {@link ServeToken}; POST and DELETE with an {@code Origin} other than the served one are
 * refused (no request forged by another page); a body over 64 KiB is refused unread. Every
 * error is one line of JSON, {@code {"error": "..."}}, never a stack trace.
 */
public final class VmsnapServer implements AutoCloseable {
    static final int MAX_BODY = 64 * 1024;
    private static final long DRAIN_LIMIT = 1 << 20;
    private static final ObjectMapper JSON = new ObjectMapper();

    /** What accepts connections: the HttpServer (TCP) or the UnixListener; stopped by close(). */
    private final AutoCloseable listener;
    private final ExecutorService executor;
    private final ServeToken token;
    private final Resources resources;
    private final DomainEvents events;
    private final Jobs jobs;
    private final Actions actions;
    /** The served origin, {@code http://HOST:PORT}; null on a UNIX socket, which serves no browser origin. */
    private final String origin;
    private final String address;
    /**
     * Parsed snapshot files kept by the server's domain service (each about a kilobyte of objects
     * plus the domain copy): a few 1000-snapshot domains; a larger folder is read every time.
     */
    static final int CACHED_SNAPSHOTS = 5000;
    /**
     * Right after start, every domain's snapshot files read into the cache (see
     * {@link DomainService#warmSnapshotCache}); {@link FirstAnswers} runs beside it.
     */
    private volatile Thread warm;
    /** Set when the server stops: event streams end instead of waiting for more. */
    private volatile boolean closing;

    private VmsnapServer(AutoCloseable listener, String origin, String address, ExecutorService executor,
            ServeToken token, DomainService domains) {
        this.listener = listener;
        this.origin = origin;
        this.address = address;
        this.executor = executor;
        this.token = token;
        this.resources = new Resources(domains);
        this.events = new DomainEvents(domains);
        this.jobs = new Jobs(events::poke);
        this.actions = new Actions(domains, jobs);
    }

    private static String origin(HttpServer http) {
        InetSocketAddress a = http.getAddress();
        String host = a.getAddress().getHostAddress();
        return "http://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort();
    }

    /**
     * Binds {@code address} (port 0 picks a free one), writes the token file into the domain
     * service's state folder and starts answering.
     */
    public static VmsnapServer start(DomainService domains, InetSocketAddress address) throws IOException {
        return start(domains, address, null);
    }

    /**
     * As {@link #start(DomainService, InetSocketAddress)}, with the token written to
     * {@code tokenFile} (null: {@code serve-token} in the state folder). The port is bound before
     * the token file is made, so a busy port leaves no file behind.
     */
    public static VmsnapServer start(DomainService domains, InetSocketAddress address, Path tokenFile)
            throws IOException {
        if (address.isUnresolved()) {
            throw new InvalidInputException("cannot resolve listen address '" + address.getHostString() + "'");
        }
        HttpServer http = HttpServer.create(address, 0);
        ServeToken token;
        try {
            token = tokenFile == null ? ServeToken.create(domains.home()) : ServeToken.createAt(tokenFile);
        } catch (IOException | RuntimeException e) {
            http.stop(0);
            throw e;
        }
        domains.withSnapshotCache(CACHED_SNAPSHOTS);
        ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
        http.setExecutor(executor);
        String origin = origin(http);
        VmsnapServer server = new VmsnapServer(() -> http.stop(0), origin, origin, executor, token, domains);
        http.createContext("/", ex -> server.handle(new JdkExchange(ex)));
        http.start();
        server.warmUp(domains);
        return server;
    }

    /**
     * Serves on a UNIX socket that this call makes at {@code socket}, mode 0600 (an existing name is
     * refused unless it is a dead server's socket), with the token written as for TCP; the socket
     * is removed by {@link #close()}. The socket is made before the token file, so a refused path
     * leaves nothing behind.
     */
    public static VmsnapServer startUnix(DomainService domains, Path socket, Path tokenFile) throws IOException {
        // A request that comes between the socket's link and the end of this method waits for the server.
        java.util.concurrent.CompletableFuture<VmsnapServer> ready = new java.util.concurrent.CompletableFuture<>();
        UnixListener unix = UnixListener.start(socket, ex -> ready.join().handle(ex));
        ServeToken token;
        try {
            token = tokenFile == null ? ServeToken.create(domains.home()) : ServeToken.createAt(tokenFile);
        } catch (IOException | RuntimeException e) {
            ready.completeExceptionally(e);
            unix.close();
            throw e;
        }
        domains.withSnapshotCache(CACHED_SNAPSHOTS);
        VmsnapServer server = new VmsnapServer(unix, null, "unix:" + unix.path(),
                Executors.newVirtualThreadPerTaskExecutor(), token, domains);
        ready.complete(server);
        server.warmUp(domains);
        return server;
    }

    private void warmUp(DomainService domains) {
        // Beside the snapshot files, not before them: the first /tree waits for those files only.
        Thread.ofVirtual().name("vmsnap-serve-first").start(() -> FirstAnswers.warm(JSON));
        warm = Thread.ofVirtual().name("vmsnap-serve-warm").start(() -> {
            try {
                domains.warmSnapshotCache();
            } catch (IOException | RuntimeException e) {
                // only a head start: the first request reads the files itself and reports what fails
            }
        });
    }

    /**
     * A read of all snapshot files right after start waits for the warm-up (it reads the same
     * files, without a lock) instead of parsing them a second time beside it on the same cores.
     */
    private void awaitWarm() {
        Thread w = warm;
        if (w != null && w.isAlive()) {
            try {
                w.join(java.time.Duration.ofSeconds(10));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Where it serves: the origin {@code http://HOST:PORT}, or {@code unix:PATH}. */
    public String url() {
        return address;
    }

    /**
     * The page's address with the token as a query parameter: what {@code serve} prints once.
     * The page takes the token out of its address bar at once and sends it as a header.
     */
    public String pageUrl() {
        return address + "/?token=" + token.value();
    }

    public Path tokenFile() {
        return token.file();
    }

    ServeToken token() {
        return token;
    }

    /** Stops answering and removes the token file. */
    @Override
    public void close() throws IOException {
        closing = true;
        try {
            listener.close();
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException(e);
        }
        try {
            warm.join(java.time.Duration.ofSeconds(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        executor.close();
        jobs.close();
        events.close();
        token.delete();
    }

    /** An answer other than 200: its status and one-line message. */
    private static final class HttpError extends Exception {
        private static final long serialVersionUID = 1L;
        final int status;

        HttpError(int status, String message) {
            super(message, null, false, false);
            this.status = status;
        }
    }

    private void handle(Exchange ex) {
        try (ex) {
            int status = 200;
            Object body;
            try {
                body = answer(ex);
                if (body instanceof Events e) {
                    stream(ex, e.job().listen(), e.job()::unlisten);
                    return;
                }
                if (body instanceof DomainStream) {
                    stream(ex, events.listen(), events::unlisten);
                    return;
                }
                if (body instanceof Accepted a) {
                    status = 202;
                    ex.setHeader("Location", "/api/jobs/" + a.job().id);
                    body = a.job().json();
                }
            } catch (HttpError e) {
                status = e.status;
                body = Map.of("error", e.getMessage());
            } catch (NotFoundException e) {
                status = 404;
                body = Map.of("error", oneLine(e.getMessage()));
            } catch (InvalidInputException e) {
                status = 400;
                body = Map.of("error", oneLine(e.getMessage()));
            } catch (ManagerException e) {
                status = 409;
                body = Map.of("error", oneLine(e.getMessage()));
            } catch (IOException | RuntimeException e) {
                // The message only: a trace would show the server's insides to any caller.
                status = 500;
                body = Map.of("error", oneLine(e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage()));
            }
            send(ex, status, body);
        } catch (IOException e) {
            // The client went away; nothing to answer.
        }
    }

    private static String oneLine(String s) {
        return s.replace('\n', ' ').replace('\r', ' ');
    }

    /** A response that is not JSON: the page. */
    private record Raw(String contentType, byte[] body, Map<String, String> headers) {
    }

    private Object answer(Exchange ex) throws HttpError, IOException {
        String rawPath = ex.rawPath();
        boolean page = "/".equals(rawPath);
        // The page is opened by following the printed address (?token=...): a browser cannot add
        // a header to a navigation. Everything under /api takes the header only.
        if (!token.accepts(ex.header("Authorization"))
                && !(page && token.acceptsValue(queryToken(ex.rawQuery())))) {
            ex.setHeader("WWW-Authenticate", "Bearer");
            throw new HttpError(401, "missing or wrong token (Authorization: Bearer <the serve-token file>;"
                    + " the page: the address vmsnap serve printed)");
        }
        String method = ex.method();
        boolean changes = method.equals("POST") || method.equals("DELETE") || method.equals("PUT")
                || method.equals("PATCH");
        if (changes) {
            String o = ex.header("Origin");
            if (o != null && !o.equals(origin)) {
                throw new HttpError(403, "origin '" + oneLine(o) + "' is not " + (origin == null
                        ? "allowed on a UNIX socket (it serves no page origin)" : origin));
            }
        }
        byte[] body = readBody(ex);
        if (page) {
            allow(ex, method, "GET");
            String nonce = Page.nonce();
            return new Raw("text/html; charset=utf-8", Page.html(nonce), Page.headers(nonce));
        }
        List<String> path = segments(rawPath);
        if (path.contains("") || path.size() < 3 || !path.get(0).equals("api")) {
            if (path.equals(List.of("api", "events"))) {
                allow(ex, method, "GET");
                return new DomainStream();
            }
            if (path.equals(List.of("api", "restore"))) {
                allow(ex, method, "POST");
                return new Accepted(actions.restore(body));
            }
            if (path.equals(List.of("api", "domains")) || path.equals(List.of("api", "jobs"))) {
                allow(ex, method, "GET");
                return path.get(1).equals("domains") ? resources.domains() : jobs.all();
            }
            throw new HttpError(404, "no resource at " + oneLine(rawPath));
        }
        return switch (path.get(1)) {
            case "domains" -> domainRoute(ex, method, path, body);
            case "jobs" -> jobRoute(ex, method, path);
            default -> throw new HttpError(404, "no resource at " + oneLine(rawPath));
        };
    }

    /** A job started: 202 with the job, and where to follow it. */
    private record Accepted(Job job) {
    }

    /** The stream of domain state changes (text/event-stream), GET /api/events. */
    private record DomainStream() {
    }

    /** An event stream of one job (text/event-stream). */
    private record Events(Job job) {
    }

    /**
     * /api/domains/{name}[/snapshots[/{snapshot}[/revert]] | /tree]: the resources read with GET,
     * the actions (POST a snapshot, POST revert, DELETE a snapshot) started as jobs.
     */
    private Object domainRoute(Exchange ex, String method, List<String> path, byte[] body)
            throws HttpError, IOException {
        String domain = path.get(2);
        // The route by the words in fixed places; the names (domain, snapshot) may be any word.
        int n = path.size();
        String route = n == 3 ? "domain" : n == 4 ? path.get(3)
                : n == 5 && path.get(3).equals("snapshots") ? "snapshot"
                : n == 6 && path.get(3).equals("snapshots") && path.get(5).equals("revert") ? "revert" : "";
        switch (route) {
            case "domain" -> {
                allow(ex, method, "GET");
                return resources.domain(domain);
            }
            case "start", "shutdown", "destroy", "suspend", "resume", "managedsave" -> {
                allow(ex, method, "POST");
                return new Accepted(actions.lifecycle(domain, route, body));
            }
            case "save" -> {
                allow(ex, method, "POST");
                return new Accepted(actions.save(domain, body));
            }
            case "tree" -> {
                allow(ex, method, "GET");
                awaitWarm();
                return resources.tree(domain);
            }
            case "snapshots" -> {
                allow(ex, method, "GET", "POST");
                if (method.equals("GET")) {
                    awaitWarm();
                }
                return method.equals("GET") ? resources.snapshots(domain) : new Accepted(actions.create(domain, body));
            }
            case "snapshot" -> {
                allow(ex, method, "GET", "DELETE");
                return method.equals("GET") ? resources.snapshot(domain, path.get(4))
                        : new Accepted(actions.delete(domain, path.get(4), body));
            }
            case "revert" -> {
                allow(ex, method, "POST");
                return new Accepted(actions.revert(domain, path.get(4), body));
            }
            default -> throw new HttpError(404, "no resource at " + oneLine(ex.rawPath()));
        }
    }

    /** /api/jobs/{id}: the job; /api/jobs/{id}/events: its events as they happen. */
    private Object jobRoute(Exchange ex, String method, List<String> path) throws HttpError {
        if (path.size() > 4 || path.size() == 4 && !path.get(3).equals("events")) {
            throw new HttpError(404, "no resource at " + oneLine(ex.rawPath()));
        }
        allow(ex, method, "GET");
        Job job = jobs.get(path.get(2));
        if (job == null) {
            throw new HttpError(404, "no job '" + oneLine(path.get(2)) + "' (jobs are kept while this server runs)");
        }
        return path.size() == 4 ? new Events(job) : job.json();
    }

    /** 405 with {@code Allow} unless the method is one of {@code allowed}. */
    private static void allow(Exchange ex, String method, String... allowed) throws HttpError {
        if (!List.of(allowed).contains(method)) {
            String list = String.join(", ", allowed);
            ex.setHeader("Allow", list);
            throw new HttpError(405, method + " is not allowed here (only " + list + ")");
        }
    }

    /** The value of the first {@code token=} in a raw query, or null. */
    private static String queryToken(String rawQuery) {
        if (rawQuery == null) {
            return null;
        }
        for (String pair : rawQuery.split("&")) {
            if (pair.startsWith("token=")) {
                return pair.substring("token=".length());
            }
        }
        return null;
    }

    /** The path's segments, percent-decoded; empty ones (a trailing slash) are kept, so they 404. */
    private static List<String> segments(String rawPath) throws HttpError {
        if (rawPath == null || !rawPath.startsWith("/")) {
            throw new HttpError(404, "no resource at " + rawPath);
        }
        String[] parts = rawPath.substring(1).split("/", -1);
        try {
            return java.util.Arrays.stream(parts).map(p -> URLDecoder.decode(p.replace("+", "%2B"),
                    StandardCharsets.UTF_8)).toList();
        } catch (IllegalArgumentException e) {
            throw new HttpError(400, "bad percent-encoding in the path");
        }
    }

    /** Reads the body, refusing more than {@link #MAX_BODY} bytes. */
    private static byte[] readBody(Exchange ex) throws HttpError, IOException {
        String length = ex.header("Content-Length");
        if (length != null) {
            long n;
            try {
                n = Long.parseLong(length.strip());
            } catch (NumberFormatException e) {
                throw new HttpError(400, "bad Content-Length");
            }
            if (n > MAX_BODY) {
                drain(ex);
                throw new HttpError(413, "request body over " + MAX_BODY + " bytes");
            }
        }
        try (InputStream in = ex.requestBody()) {
            byte[] b = in.readNBytes(MAX_BODY + 1);
            if (b.length > MAX_BODY) {
                drain(ex);
                throw new HttpError(413, "request body over " + MAX_BODY + " bytes");
            }
            return b;
        }
    }

    /**
     * Reads and drops up to 1 MiB more of a refused body, so a client that sends it all before
     * reading gets the 413 rather than a reset connection; a larger body is cut off.
     */
    private static void drain(Exchange ex) throws IOException {
        ex.setHeader("Connection", "close");
        try (InputStream in = ex.requestBody()) {
            long left = DRAIN_LIMIT;
            byte[] buf = new byte[8192];
            int n;
            while (left > 0 && (n = in.read(buf, 0, (int) Math.min(buf.length, left))) > 0) {
                left -= n;
            }
        }
    }

    /**
     * Server-sent events from {@code events}: of one job, its state now, then each change (state,
     * progress) until the "end" event, which carries the job as GET /api/jobs/{id} shows it; of
     * the domains, every state now, then each change until the server stops. A comment line every
     * 15 s keeps the connection open through idle times.
     */
    private void stream(Exchange ex, BlockingQueue<Job.Event> events,
            java.util.function.Consumer<BlockingQueue<Job.Event>> unlisten) throws IOException {
        ex.setHeader("Content-Type", "text/event-stream; charset=utf-8");
        ex.setHeader("Cache-Control", "no-store");
        ex.setHeader("X-Content-Type-Options", "nosniff");
        try (OutputStream out = ex.send(200, -1)) {
            int idleSeconds = 0;
            while (!closing) {
                Job.Event e = events.poll(1, TimeUnit.SECONDS);
                if (e == null) {
                    if (++idleSeconds % 15 == 0) {
                        out.write(": idle\n\n".getBytes(StandardCharsets.US_ASCII));
                        out.flush();
                    }
                    continue;
                }
                out.write(("event: " + e.type() + "\ndata: " + JSON.writeValueAsString(e.data()) + "\n\n")
                        .getBytes(StandardCharsets.UTF_8));
                out.flush();
                if (e.type().equals("end")) {
                    break;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            unlisten.accept(events);
        }
    }

    private static void send(Exchange ex, int status, Object body) throws IOException {
        byte[] bytes;
        if (body instanceof Raw raw) {
            bytes = raw.body();
            ex.setHeader("Content-Type", raw.contentType());
            raw.headers().forEach((k, v) -> ex.setHeader(k, v));
        } else {
            bytes = (JSON.writeValueAsString(body) + "\n").getBytes(StandardCharsets.UTF_8);
            ex.setHeader("Content-Type", "application/json; charset=utf-8");
        }
        ex.setHeader("Cache-Control", "no-store");
        ex.setHeader("Referrer-Policy", "no-referrer");
        ex.setHeader("X-Content-Type-Options", "nosniff");
        try (OutputStream out = ex.send(status, bytes.length)) {
            out.write(bytes);
        }
    }
}
