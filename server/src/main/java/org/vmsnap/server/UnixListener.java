package org.vmsnap.server;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Map;
import java.util.function.Consumer;

import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.unixdomain.server.UnixDomainServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.VirtualThreadPool;

import org.vmsnap.manager.InvalidInputException;
import org.vmsnap.manager.ManagerException;

import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * {@code serve --socket PATH}: Jetty 12 on a UNIX socket of mode 0600 that this process makes
 * (the JDK's HttpServer binds only TCP). Jetty binds the socket inside a fresh 0700 folder beside
 * PATH, so nobody can connect during the moment its mode is the umask's; it is made 0600 and then
 * hard-linked to PATH, which, unlike a rename, fails on any existing name. An existing PATH is
 * refused unless it is a socket nobody answers on (a dead server's), which is replaced. On close
 * PATH is removed if it is still this socket.
 */
final class UnixListener implements AutoCloseable {
    /** sun_path holds 108 bytes with the terminating NUL. */
    static final int MAX_PATH_BYTES = 107;
    private static final ObjectMapper JSON = new ObjectMapper();

    static {
        // Jetty's own INFO lines (version, "Started ...") are not serve's output; warnings still show.
        if (System.getProperty("org.eclipse.jetty.LEVEL") == null) {
            System.setProperty("org.eclipse.jetty.LEVEL", "WARN");
        }
    }

    private final Server jetty;
    private final Path path;
    private final Object fileKey;

    private UnixListener(Server jetty, Path path, Object fileKey) {
        this.jetty = jetty;
        this.path = path;
        this.fileKey = fileKey;
    }

    Path path() {
        return path;
    }

    /** Makes the socket at {@code path} and starts answering each request with {@code handler}. */
    static UnixListener start(Path path, Consumer<Exchange> handler) throws IOException {
        Path socket = path.toAbsolutePath().normalize();
        Path folder = socket.getParent();
        byte[] random = new byte[4];
        new SecureRandom().nextBytes(random);
        Path privateFolder = folder.resolve(".vmsnap-" + HexFormat.of().formatHex(random));
        Path bound = privateFolder.resolve("s");
        if (socket.toString().getBytes(StandardCharsets.UTF_8).length > MAX_PATH_BYTES
                || bound.toString().getBytes(StandardCharsets.UTF_8).length > MAX_PATH_BYTES) {
            throw new InvalidInputException("--socket " + path + ": a UNIX socket path has at most " + MAX_PATH_BYTES
                    + " bytes (and vmsnap needs " + (bound.toString().length() - socket.toString().length())
                    + " more beside it while it makes it): choose a shorter path");
        }
        if (!Files.isDirectory(folder)) {
            throw new InvalidInputException("--socket " + path + ": no folder " + folder);
        }
        refuseLive(socket);
        Files.createDirectory(privateFolder,
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Server jetty = new Server(new VirtualThreadPool());
        try {
            UnixDomainServerConnector connector = new UnixDomainServerConnector(jetty, new HttpConnectionFactory());
            connector.setUnixDomainPath(bound);
            jetty.addConnector(connector);
            jetty.setHandler(new Handler.Abstract() {
                @Override
                public boolean handle(Request request, Response response, Callback callback) {
                    handler.accept(new JettyExchange(request, response, callback));
                    return true;
                }
            });
            jetty.setErrorHandler(new OneLineErrors());
            jetty.start();
            Files.setPosixFilePermissions(bound, PosixFilePermissions.fromString("rw-------"));
            Object key = Files.readAttributes(bound, java.nio.file.attribute.BasicFileAttributes.class,
                    LinkOption.NOFOLLOW_LINKS).fileKey();
            link(socket, bound);
            Files.delete(bound);
            Files.delete(privateFolder);
            return new UnixListener(jetty, socket, key);
        } catch (Exception e) {
            stopQuietly(jetty);
            Files.deleteIfExists(bound);
            Files.deleteIfExists(privateFolder);
            if (e instanceof IOException io) {
                throw io;
            }
            if (e instanceof RuntimeException r) {
                throw r;
            }
            throw new IOException("cannot serve on " + socket + ": " + e.getMessage(), e);
        }
    }

    /**
     * PATH made the new socket's second name; an existing name is replaced only when it is a
     * socket that refuses connections (its server is gone), once.
     */
    private static void link(Path socket, Path bound) throws IOException {
        try {
            Files.createLink(socket, bound);
        } catch (FileAlreadyExistsException e) {
            refuseLive(socket);
            Files.delete(socket);
            try {
                Files.createLink(socket, bound);
            } catch (FileAlreadyExistsException again) {
                throw new ManagerException("--socket " + socket + " exists: something else made it just now");
            }
        }
    }

    /**
     * Refuses an existing {@code socket} unless it is this user's socket and a connect to it is
     * refused (its server is gone).
     */
    private static void refuseLive(Path socket) throws IOException {
        org.vmsnap.manager.LocalSocket.State state;
        try {
            state = org.vmsnap.manager.LocalSocket.probe(socket);
        } catch (IOException e) {
            throw new ManagerException("--socket " + socket + " exists and cannot be checked (" + e.getMessage()
                    + "): choose another path");
        }
        switch (state) {
            case MISSING, DEAD -> {
                // nothing there, or a dead server's socket
            }
            case NOT_A_SOCKET -> throw new ManagerException("--socket " + socket
                    + " exists and is not a socket: choose another path");
            case OTHER_USER -> throw new ManagerException("--socket " + socket
                    + " exists and belongs to another user: choose another path");
            case LIVE -> throw new ManagerException("--socket " + socket
                    + ": another server is listening on it (is another vmsnap serve running?)");
        }
    }

    /** Stops answering and removes PATH if it is still this socket. */
    @Override
    public void close() throws IOException {
        stopQuietly(jetty);
        try {
            Object key = Files.readAttributes(path, java.nio.file.attribute.BasicFileAttributes.class,
                    LinkOption.NOFOLLOW_LINKS).fileKey();
            if (key != null && key.equals(fileKey)) {
                Files.delete(path);
            }
        } catch (java.nio.file.NoSuchFileException e) {
            // already gone
        }
    }

    private static void stopQuietly(Server jetty) {
        try {
            jetty.stop();
        } catch (Exception e) {
            // stopping: nothing more to do with it
        }
    }

    /**
     * What Jetty answers itself (a request it cannot parse, an ambiguous path): one line of JSON
     * as every other error of serve, not Jetty's HTML page.
     */
    private static final class OneLineErrors extends ErrorHandler {
        @Override
        protected void generateResponse(Request request, Response response, int code, String message,
                Throwable cause, Callback callback) throws IOException {
            String line = message == null || message.isBlank() ? "HTTP " + code : message;
            byte[] body = (JSON.writeValueAsString(Map.of("error", line.replace('\n', ' ').replace('\r', ' ')))
                    + "\n").getBytes(StandardCharsets.UTF_8);
            response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json; charset=utf-8");
            response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.length);
            response.write(true, java.nio.ByteBuffer.wrap(body), callback);
        }
    }
}
