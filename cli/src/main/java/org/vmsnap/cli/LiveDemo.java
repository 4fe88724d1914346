package org.vmsnap.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.vmsnap.testkit.TestGuest;

/**
 * The running-VM part of {@code vmsnap demo}: the test guest (a Debian kernel and a busybox
 * initramfs that writes numbered, checksummed records to two ext4 disks in lockstep, built on
 * first use from Debian packages as the tests build it) is started, snapshotted live and quiesced
 * (both disks at one instant), its tree shown, a snapshot deleted while it runs, and destroyed;
 * then the records on both disks prove that nothing was lost. Skipped, with the reason, where
 * QEMU or the guest's packages are missing.
 */
final class LiveDemo {
    private final PrintWriter out;
    private final PrintWriter err;
    private final Path work;

    LiveDemo(PrintWriter out, PrintWriter err, Path work) {
        this.out = out;
        this.err = err;
        this.work = work;
    }

    /** What the live part needs; empty when everything is there. */
    static List<String> missing() {
        List<String> m = new ArrayList<>();
        for (String[] tool : new String[][] {{"qemu-system-x86_64", "qemu-system-x86"}, {"qemu-img", "qemu-utils"},
                {"debugfs", "e2fsprogs"}, {"apt-get", "apt"}}) {
            if (!onPath(tool[0])) {
                m.add(tool[1]);
            }
        }
        if (!Files.exists(Path.of("/usr/sbin/qemu-ga"))) {
            m.add("qemu-guest-agent");
        }
        if (!Files.exists(Path.of("/bin/busybox"))) {
            m.add("busybox-static");
        }
        return m;
    }

    private static boolean onPath(String tool) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, tool))) {
                return true;
            }
        }
        return false;
    }

    void run() throws IOException, InterruptedException {
        String previous = System.getProperty("vmsnap.home");
        System.setProperty("vmsnap.home", work.resolve("state").toString());
        try {
            steps();
        } finally {
            Main.run(new PrintWriter(java.io.Writer.nullWriter()), new PrintWriter(java.io.Writer.nullWriter()),
                    "destroy", "live"); // whatever happened, no QEMU of the demo is left running
            if (previous == null) {
                System.clearProperty("vmsnap.home");
            } else {
                System.setProperty("vmsnap.home", previous);
            }
        }
    }

    private void steps() throws IOException, InterruptedException {
        note("The running VM: the test guest (a Debian kernel and busybox; built once into " + TestGuest.cacheRoot()
                + ", about 20 s the first time). It writes a numbered, checksummed record to each of its two ext4"
                + " disks five times a second, first to vda, then the same record to vdb");
        out.flush();
        TestGuest guest = TestGuest.get();
        List<Path> disks = List.of(work.resolve("live-vda.qcow2"), work.resolve("live-vdb.qcow2"));
        for (Path d : disks) {
            TestGuest.createDataDisk(d, 64);
        }
        Path serial = work.resolve("live-serial.log");
        Path xml = work.resolve("live.xml");
        Files.writeString(xml, guest.domainXml("live", disks, serial));
        cmd("define", xml.toString());
        cmd("start", "live");
        TestGuest.awaitSerial(serial, 0, TestGuest.READY_LINE, Duration.ofSeconds(180));
        TestGuest.awaitSerial(serial, 0, "COUNTER 3 ", Duration.ofSeconds(60));
        cmd("list");
        note("A live snapshot of both disks, quiesced (the guest agent freezes both filesystems) and atomic (one"
                + " QEMU transaction); the guest is not paused");
        cmd("snapshot-create-as", "live", "before-upgrade", "--disk-only", "--quiesce", "--atomic");
        cmd("domblklist", "live");
        TestGuest.DiskPair frozen = TestGuest.readDiskPair(disks.get(0), disks.get(1), "qcow2");
        note("Its frozen images: " + (TestGuest.fsck(disks.get(0), "qcow2").clean() ? "clean" : "NOT clean")
                + " for e2fsck -fn, " + (TestGuest.needsRecovery(disks.get(0), "qcow2") ? "a journal to replay"
                : "no journal to replay") + "; records 1.." + frozen.first().last() + " on vda and 1.."
                + frozen.second().last() + " on vdb" + (frozen.inLockstep() ? " (one instant)" : " (NOT one instant)"));
        TestGuest.awaitSerial(serial, Files.size(serial), "COUNTER", Duration.ofSeconds(60));
        cmd("snapshot-create-as", "live", "after-upgrade", "--disk-only", "--diskspec", "vda,snapshot=internal",
                "--diskspec", "vdb,snapshot=external");
        note("vda's part of 'after-upgrade' is internal (inside vda's active image), vdb's external: one transaction"
                + " (libvirt 9.0 refuses internal disk-only snapshots of a running VM)");
        cmd("snapshot-list", "live", "--tree");
        note("Delete 'before-upgrade' while the guest runs. On vdb its overlay is merged away: QEMU commits"
                + " live-vdb.before-upgrade into live-vdb.qcow2 below it (block-commit), then vmsnap removes the file."
                + " On vda it stays vda's image: it holds the internal part of 'after-upgrade' (so it is not"
                + " committed away), and pulling live-vda.qcow2 into it would remove the user's own file");
        cmd("snapshot-delete", "live", "before-upgrade");
        cmd("snapshot-list", "live", "--tree");
        cmd("domblklist", "live");
        TestGuest.awaitSerial(serial, Files.size(serial), "COUNTER", Duration.ofSeconds(60));
        TestGuest.Counter saved = lastCounter(serial);
        Path memory = work.resolve("live.memory");
        note("Hibernate: the guest's memory and device state go to a file (zstd frames, each with its"
                + " checksum); the domain ends shut off. Its in-memory counter is at " + saved.n());
        cmd("save", "live", memory.toString());
        cmd("domstate", "live");
        cmd("restore", memory.toString());
        TestGuest.Counter resumed = nextCounter(serial, Files.size(serial));
        boolean continued = resumed.boot().equals(saved.boot()) && resumed.n() > saved.n();
        note("Restored: the counter goes on at " + resumed.n() + (continued ? " in the same boot (no reboot):"
                + " the guest went on from where it was saved" : " (NOT a continuation of the saved guest)"));
        note("A checkpoint: disks and memory together, inside the qcow2 images (QEMU's savevm format); the"
                + " guest keeps writing, then goes back to that running moment");
        TestGuest.Counter atCheckpoint = lastCounter(serial);
        cmd("snapshot-create-as", "live", "checkpoint");
        for (int i = 0; i < 3; i++) { // let it count on a little
            nextCounter(serial, Files.size(serial));
        }
        TestGuest.Counter later = lastCounter(serial);
        cmd("snapshot-revert", "live", "checkpoint");
        TestGuest.Counter back = nextCounter(serial, Files.size(serial));
        boolean wentBack = back.boot().equals(atCheckpoint.boot()) && back.n() <= later.n();
        note("The counter was at " + later.n() + "; after the revert it counts from " + back.n()
                + (wentBack ? ": back at the checkpoint's moment, same boot" : " (NOT the checkpoint's moment)"));
        note("An external checkpoint with --live: the memory goes to a file while the guest keeps running (it"
                + " pauses only for the last pass), and both disks get new overlays at that same moment");
        Path checkpointMemory = work.resolve("live.cp2.mem");
        TestGuest.Counter atCp2 = lastCounter(serial);
        cmd("snapshot-create-as", "live", "cp2", "--memspec", checkpointMemory.toString(), "--live");
        for (int i = 0; i < 3; i++) {
            nextCounter(serial, Files.size(serial));
        }
        TestGuest.Counter later2 = lastCounter(serial);
        cmd("snapshot-revert", "live", "cp2");
        TestGuest.Counter back2 = nextCounter(serial, Files.size(serial));
        boolean wentBack2 = back2.boot().equals(atCp2.boot()) && back2.n() <= later2.n();
        note("The counter was at " + later2.n() + "; after the revert (QEMU restarted from the memory file, the"
                + " disks on new overlays over the checkpoint's images) it counts from " + back2.n()
                + (wentBack2 ? ": back at the checkpoint's moment, same boot" : " (NOT the checkpoint's moment)"));
        cmd("snapshot-list", "live", "--tree");
        if (!continued || !wentBack || !wentBack2) {
            throw new CliException(1, "demo stopped: the guest did not continue as it should (see above)");
        }
        cmd("destroy", "live");
        Map<String, Path> tops = tops();
        TestGuest.DiskPair end = TestGuest.readDiskPair(tops.get("vda"), tops.get("vdb"), "qcow2");
        note("After destroy: vda holds records 1.." + end.first().last() + (end.first().isContiguous() ? ", none missing"
                : ", SOME MISSING") + "; vdb 1.." + end.second().last() + (end.second().isContiguous() ? ", none missing"
                : ", SOME MISSING") + ": the live snapshot and the live delete lost nothing the guest wrote");
        if (!end.first().isContiguous() || !end.second().isContiguous() || !frozen.inLockstep()) {
            throw new CliException(1, "demo stopped: the guest's records show a loss (see above)");
        }
        cmd("undefine", "live", "--snapshots-metadata");
    }

    /** The first whole counter line the guest prints after byte {@code mark} of its serial log. */
    private static TestGuest.Counter nextCounter(Path serial, long mark) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (true) {
            List<TestGuest.Counter> seen = TestGuest.counters(TestGuest.readFrom(serial, mark));
            if (!seen.isEmpty()) {
                return seen.getFirst();
            }
            if (System.nanoTime() - deadline > 0) {
                throw new CliException(1, "demo stopped: the guest printed no counter within 60 s (" + serial + ")");
            }
            Thread.sleep(100);
        }
    }

    /** The last counter line the guest printed so far. */
    private static TestGuest.Counter lastCounter(Path serial) {
        return TestGuest.counters(TestGuest.readFrom(serial, 0)).getLast();
    }

    private Map<String, Path> tops() throws IOException {
        Map<String, Path> out = new TreeMap<>();
        new org.vmsnap.manager.DomainService(org.vmsnap.manager.DomainService.defaultHome()).get("live").disks()
                .forEach(d -> out.put(d.target(), d.source()));
        return out;
    }

    private void note(String text) {
        out.println();
        out.println("# " + text);
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
