package org.vmsnap.cli;

import java.io.File;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import org.vmsnap.qcow2.Qcow2CreateOptions;
import org.vmsnap.qcow2.Qcow2Image;

/**
 * The live part of {@code aot-training}: the verbs of a running domain (start, domstate,
 * external disk-only snapshots of both disks, their delete by active commit, destroy) on the
 * demo's two-disk domain with nothing to boot, so that their classes (the QMP client, Jackson,
 * the live executor, the block graph) are in the AOT cache too. QEMU runs the firmware only,
 * for a second or two. Without qemu-system-x86_64 on PATH it does nothing; a step that fails
 * (no KVM and a slow TCG, say) leaves the cache with fewer classes, never a training that
 * fails: the domain is destroyed whatever happened.
 */
final class LiveTraining {
    private final PrintWriter sink;
    private final Path work;

    LiveTraining(PrintWriter sink, Path work) {
        this.sink = sink;
        this.work = work;
    }

    static boolean qemuOnPath() {
        String path = System.getenv("PATH");
        if (path == null) {
            return false;
        }
        for (String dir : path.split(File.pathSeparator)) {
            if (Files.isExecutable(Path.of(dir.isEmpty() ? "." : dir, "qemu-system-x86_64"))) {
                return true;
            }
        }
        return false;
    }

    /** @return whether every step worked (false without QEMU) */
    boolean run() throws IOException {
        if (!qemuOnPath()) {
            return false;
        }
        String previous = System.getProperty("vmsnap.home");
        System.setProperty("vmsnap.home", work.resolve("state").toString());
        try {
            return steps();
        } finally {
            if (previous == null) {
                System.clearProperty("vmsnap.home");
            } else {
                System.setProperty("vmsnap.home", previous);
            }
        }
    }

    private boolean steps() throws IOException {
        Qcow2Image.create(work.resolve("system.qcow2"), Qcow2CreateOptions.ofSize(VmDemo.DISK_BYTES)).close();
        Qcow2Image.create(work.resolve("data.qcow2"), Qcow2CreateOptions.ofSize(VmDemo.DISK_BYTES)).close();
        Path xml = work.resolve("demo.xml");
        Files.writeString(xml, VmDemo.bundledXml().replace("@DIR@", work.toString()));
        if (Main.run(sink, sink, "define", xml.toString()) != 0) {
            return false;
        }
        boolean worked = true;
        try {
            if (Main.run(sink, sink, "start", "demo") != 0) {
                return false;
            }
            // What bench/live.sh times: domstate, then a two-disk external snapshot and its delete.
            String[][] steps = {
                {"domstate", "demo"},
                {"domstate", "demo", "--reason"},
                {"snapshot-create-as", "demo", "e1", "--disk-only", "--atomic",
                    "--diskspec", "vda,file=" + work.resolve("vda.e1"), "--diskspec", "vdb,file=" + work.resolve("vdb.e1")},
                {"snapshot-create-as", "demo", "e2", "--disk-only", "--atomic"},
                {"domblklist", "demo"},
                {"snapshot-list", "demo"},
                // The other read-only verbs, on a running domain.
                {"dominfo", "demo"},
                {"domid", "demo"},
                {"dumpxml", "demo"},
                {"snapshot-current", "demo"},
                {"snapshot-parent", "demo", "e2"},
                {"snapshot-info", "demo", "e2"},
                {"snapshot-delete", "demo", "e2"},
                {"snapshot-delete", "demo", "e1"},
                {"domstate", "demo"},
            };
            for (String[] step : steps) {
                if (Main.run(sink, sink, step) != 0) {
                    worked = false;
                    break;
                }
            }
        } finally {
            worked &= Main.run(sink, sink, "destroy", "demo") == 0;
            worked &= Main.run(sink, sink, "undefine", "demo", "--snapshots-metadata") == 0;
        }
        return worked;
    }
}
