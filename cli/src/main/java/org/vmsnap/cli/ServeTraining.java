package org.vmsnap.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.net.HttpURLConnection;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.vmsnap.manager.DomainService;
import org.vmsnap.qcow2.Qcow2CreateOptions;
import org.vmsnap.qcow2.Qcow2Image;
import org.vmsnap.server.VmsnapServer;

/**
 * The server part of {@code aot-training}: {@code serve} on a free loopback port over a
 * temporary state folder holding the demo's domain with an internal and an external snapshot,
 * and the page's first requests (the page, the domain list, the tree, the snapshots). A cold
 * {@code serve} spends most of its first page load loading and linking the HTTP server's,
 * Jackson's and the tree's classes; with them in the AOT cache it does not. A step that fails
 * leaves the cache with fewer classes, never a training that fails.
 */
final class ServeTraining {
    private ServeTraining() {
    }

    static void run(PrintWriter sink, Path work) {
        Path home = work.resolve("state");
        String previous = System.getProperty("vmsnap.home");
        System.setProperty("vmsnap.home", home.toString());
        try {
            for (String disk : List.of("system.qcow2", "data.qcow2")) {
                Qcow2Image.create(work.resolve(disk), Qcow2CreateOptions.ofSize(VmDemo.DISK_BYTES)).close();
            }
            Path xml = work.resolve("demo.xml");
            Files.writeString(xml, VmDemo.bundledXml().replace("@DIR@", work.toString()));
            Main.run(sink, sink, "define", xml.toString());
            Main.run(sink, sink, "snapshot-create-as", "demo", "one");
            Main.run(sink, sink, "snapshot-create-as", "demo", "two", "--disk-only");
            DomainService domains = new DomainService(home, line -> { });
            try (VmsnapServer server = VmsnapServer.start(domains,
                    new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), work.resolve("serve-token"))) {
                String page = server.pageUrl();
                String token = page.substring(page.indexOf("token=") + "token=".length());
                get(page, null);
                for (String path : List.of("/api/domains", "/api/domains/demo/tree", "/api/domains/demo/snapshots")) {
                    get(server.url() + path, token);
                }
            }
        } catch (IOException | RuntimeException e) {
            // fewer classes in the cache; the commands themselves were trained above
        } finally {
            if (previous == null) {
                System.clearProperty("vmsnap.home");
            } else {
                System.setProperty("vmsnap.home", previous);
            }
        }
    }

    private static void get(String url, String token) throws IOException {
        HttpURLConnection c = (HttpURLConnection) URI.create(url).toURL().openConnection();
        try {
            if (token != null) {
                c.setRequestProperty("Authorization", "Bearer " + token);
            }
            c.getResponseCode();
            try (InputStream in = c.getErrorStream() != null ? c.getErrorStream() : c.getInputStream()) {
                in.readAllBytes();
            }
        } finally {
            c.disconnect();
        }
    }
}
