package org.vmsnap.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.vmsnap.qcow2.BlockDevice;
import org.vmsnap.qcow2.Images;
import org.vmsnap.qcow2.OpenOptions;
import org.vmsnap.qcow2.Qcow2CreateOptions;
import org.vmsnap.qcow2.Qcow2Image;

/**
 * The VM part of {@code vmsnap demo}: a domain defined from a bundled XML with two small disks,
 * a snapshot tree of internal and external snapshots, a revert that starts a branch, and the
 * delete of an external snapshot in the middle of the tree (libvirt 9.0 refuses both). The
 * state folder is the demo's own, so the user's domains are not touched.
 */
final class VmDemo {
    static final long DISK_BYTES = 32L << 20;

    private final PrintWriter out;
    private final PrintWriter err;
    private final Path work;

    VmDemo(PrintWriter out, PrintWriter err, Path work) {
        this.out = out;
        this.err = err;
        this.work = work;
    }

    void run() throws IOException {
        String previous = System.getProperty("vmsnap.home");
        System.setProperty("vmsnap.home", work.resolve("state").toString());
        try {
            steps();
        } finally {
            if (previous == null) {
                System.clearProperty("vmsnap.home");
            } else {
                System.setProperty("vmsnap.home", previous);
            }
        }
    }

    private void steps() throws IOException {
        Path system = work.resolve("system.qcow2");
        Path data = work.resolve("data.qcow2");
        Qcow2Image.create(system, Qcow2CreateOptions.ofSize(DISK_BYTES)).close();
        Qcow2Image.create(data, Qcow2CreateOptions.ofSize(DISK_BYTES)).close();
        Path xml = work.resolve("demo.xml");
        Files.writeString(xml, bundledXml().replace("@DIR@", work.toString()));
        note("The VM part: a domain with two " + (DISK_BYTES >> 20) + " MiB qcow2 disks, defined from " + xml
                + " (state folder " + work.resolve("state") + ")");
        cmd("define", xml.toString());
        cmd("list", "--all");
        cmd("domblklist", "demo", "--details");

        stamp("v1: fresh install");
        cmd("snapshot-create-as", "demo", "installed", "fresh install");
        stamp("v2: upgraded");
        cmd("snapshot-create-as", "demo", "upgraded", "after the upgrade", "--disk-only");
        cmd("domblklist", "demo");
        stamp("v3: tests passed");
        cmd("snapshot-create-as", "demo", "tested", "--disk-only");
        stamp("v4: work after the tests");
        cmd("snapshot-list", "demo", "--tree");

        note("Delete 'upgraded', an external snapshot in the middle of the tree (libvirt 9.0 refuses):"
                + " its overlay system.upgraded is committed into system.qcow2 below it, and 'tested' now"
                + " freezes that image");
        cmd("snapshot-delete", "demo", "upgraded");
        cmd("snapshot-list", "demo", "--tree");
        cmd("snapshot-info", "demo", "tested");

        note("Back to 'installed': its internal snapshot sits in system.qcow2, which the overlay of"
                + " 'tested' reads through, so vmsnap never writes that file: a new overlay over it holds"
                + " only what differs from the snapshot");
        cmd("snapshot-revert", "demo", "installed");
        show();
        stamp("v5: an experiment on a new branch");
        cmd("snapshot-create-as", "demo", "experiment", "internal snapshot on the new branch");
        cmd("snapshot-list", "demo", "--parent");
        cmd("snapshot-list", "demo", "--tree");

        cmd("snapshot-revert", "demo", "tested");
        show();
        cmd("snapshot-revert", "demo", "experiment");
        show();
        cmd("domblklist", "demo");
        try (var files = Files.list(work)) {
            for (Path f : files.sorted().toList()) {
                if (!Files.isDirectory(f) && !f.getFileName().toString().startsWith(".")
                        && Images.probeFormat(f).equals("qcow2")) {
                    cmd("img", "check", "-q", f.toString());
                }
            }
        }
        note("every image checks clean ('img check -q' prints nothing when clean)");
        cmd("snapshot-dumpxml", "demo", "tested");
        cmd("undefine", "demo", "--snapshots-metadata");
    }

    static String bundledXml() throws IOException {
        try (InputStream in = VmDemo.class.getResourceAsStream("demo-domain.xml")) {
            if (in == null) {
                throw new IOException("demo-domain.xml is missing from the vmsnap jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private void note(String text) {
        out.println();
        out.println("# " + text);
    }

    /** Writes a line of text at the start of both disks (what the VM would have written). */
    private void stamp(String text) throws IOException {
        note("the VM writes \"" + text + "\" to vda and vdb");
        for (String dev : new String[] {"vda", "vdb"}) {
            try (BlockDevice d = Images.open(currentImage(dev), OpenOptions.readWrite())) {
                byte[] b = new byte[512];
                byte[] t = (dev + ": " + text + "\n").getBytes(StandardCharsets.US_ASCII);
                System.arraycopy(t, 0, b, 0, t.length);
                d.write(0, ByteBuffer.wrap(b));
                d.flush();
            }
        }
    }

    /** Prints the line at the start of both disks. */
    private void show() throws IOException {
        for (String dev : new String[] {"vda", "vdb"}) {
            try (BlockDevice d = Images.open(currentImage(dev), OpenOptions.readOnlyOpen())) {
                ByteBuffer b = ByteBuffer.allocate(512);
                d.read(0, b);
                String s = new String(b.array(), StandardCharsets.US_ASCII);
                int nl = s.indexOf('\n');
                out.println("# " + dev + " now reads: " + (nl < 0 ? "(nothing)" : s.substring(0, nl)));
            }
        }
    }

    private Path currentImage(String dev) throws IOException {
        return new org.vmsnap.manager.DomainService(org.vmsnap.manager.DomainService.defaultHome()).get("demo")
                .disk(dev).orElseThrow().source();
    }

    private void cmd(String... args) {
        out.println();
        out.println("$ vmsnap " + String.join(" ", java.util.Arrays.stream(args)
                .map(a -> a.contains(" ") ? "\"" + a + "\"" : a).toList()));
        out.flush();
        int code = Main.run(out, err, args);
        if (code != 0) {
            out.flush();
            throw new CliException(code, "demo stopped: 'vmsnap " + String.join(" ", args) + "' exited with " + code);
        }
    }
}
