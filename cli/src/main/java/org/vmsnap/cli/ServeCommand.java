package org.vmsnap.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.concurrent.Callable;

import org.vmsnap.manager.DomainService;
import org.vmsnap.server.VmsnapServer;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code vmsnap serve [--listen HOST:PORT | --socket PATH] [--token-file FILE]}: the web page and
 * the JSON API ({@link VmsnapServer}) until SIGINT or SIGTERM. It prints the page's address with
 * the token once; the token is also in a 0600 file, removed when the server stops. With
 * {@code --socket} it serves on a UNIX socket of mode 0600 that it makes and removes.
 */
@Command(name = "serve",
        description = "Serve a web page of the domains and their snapshot trees, and a JSON API, on 127.0.0.1"
                + " (until Ctrl-C). Like vmsnap daemon, it also runs the CLI's short commands in its warm JVM.",
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap serve                          # http://127.0.0.1:8740/?token=...",
                "  vmsnap serve --listen 127.0.0.1:0     # any free port",
                "  vmsnap serve --socket /run/user/1000/vmsnap.sock",
                "  curl --unix-socket /run/user/1000/vmsnap.sock -H \"Authorization: Bearer $(cat ...)\" \\",
                "      http://localhost/api/domains",
                "  curl -H \"Authorization: Bearer $(cat ~/.local/share/vmsnap/serve-token)\" \\",
                "      http://127.0.0.1:8740/api/domains"})
public final class ServeCommand implements Callable<Integer> {
    static final String DEFAULT_LISTEN = "127.0.0.1:8740";

    @Option(names = "--listen", paramLabel = "HOST:PORT",
            description = "Address to listen on (default " + DEFAULT_LISTEN + "; port 0: any free port;"
                    + " [::1]:PORT for IPv6).")
    String listen;

    @Option(names = "--socket", paramLabel = "PATH",
            description = "Serve on a UNIX socket made at PATH, mode 0600, removed on exit (instead of TCP; an"
                    + " existing PATH is refused unless it is a dead server's socket).")
    Path socket;

    @Option(names = "--token-file", paramLabel = "FILE",
            description = "Write the token to FILE, mode 0600, created new (default: serve-token in the state"
                    + " folder).")
    Path tokenFile;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (socket != null && listen != null) {
            throw new CliException("--listen and --socket are exclusive: serve on TCP or on a UNIX socket");
        }
        InetSocketAddress address = socket != null ? null : address(listen == null ? DEFAULT_LISTEN : listen);
        DomainService domains = new DomainService(DomainService.defaultHome(), line -> {
            err.println("vmsnap: " + line);
            err.flush();
        });
        VmsnapServer server;
        try {
            server = socket != null ? VmsnapServer.startUnix(domains, socket, tokenFile)
                    : VmsnapServer.start(domains, address, tokenFile);
        } catch (BindException e) {
            if (socket != null) {
                throw new CliException(1, "cannot listen on " + socket + ": " + e.getMessage(), e);
            }
            throw new CliException(1, "cannot listen on " + (listen == null ? DEFAULT_LISTEN : listen) + ": " + e.getMessage()
                    + " (is another vmsnap serve running? --listen HOST:PORT picks another port)", e);
        }
        // serve is a warm JVM too: it also takes the CLI's short commands, as `vmsnap daemon` does,
        // unless a daemon already serves the state folder.
        org.vmsnap.cli.daemon.CliDaemon cli;
        try {
            cli = org.vmsnap.cli.daemon.CliDaemon.start(DomainService.defaultHome(), line -> { });
        } catch (IOException e) {
            cli = null;
            err.println("vmsnap: the CLI's commands keep their own JVMs: " + e.getMessage());
        }
        UntilSignal stop = UntilSignal.closing("vmsnap-serve-stop", server::close, cli == null ? null : cli::close);
        if (address != null && !address.getAddress().isLoopbackAddress()) {
            err.println("vmsnap: listening on " + address.getAddress().getHostAddress()
                    + ", not a loopback address: anyone who can reach it is one token away from your domains");
        }
        if (socket != null) {
            // No browser reaches a UNIX socket: the address is for programs (curl --unix-socket).
            out.println("vmsnap serve: listening on " + server.url() + " (mode 0600, removed on exit)");
        } else {
            out.println("vmsnap serve: open " + server.pageUrl());
        }
        out.println("vmsnap serve: the token is also in " + server.tokenFile() + " (removed on exit); Ctrl-C stops");
        out.flush();
        err.flush();
        // Until a signal (the hook closes the servers and the JVM ends) or, in process, an interrupt.
        stop.await();
        return 0;
    }

    /** HOST:PORT, [IPV6]:PORT; the host is a literal or a name resolved once, here. */
    static InetSocketAddress address(String listen) throws UnknownHostException {
        int colon = listen.lastIndexOf(':');
        String host = colon < 0 ? "" : listen.substring(0, colon);
        String port = listen.substring(colon + 1);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        if (host.isEmpty() || !port.matches("[0-9]{1,5}") || Integer.parseInt(port) > 65535) {
            throw new CliException("--listen '" + listen + "': expected HOST:PORT (PORT 0-65535), e.g. "
                    + DEFAULT_LISTEN);
        }
        try {
            return new InetSocketAddress(InetAddress.getByName(host), Integer.parseInt(port));
        } catch (UnknownHostException e) {
            throw new CliException(1, "--listen '" + listen + "': unknown host '" + host + "'", e);
        }
    }
}
