package org.vmsnap.cli.live;

import static org.assertj.core.api.Assertions.assertThat;
import static org.vmsnap.cli.live.LiveDomain.ok;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.testkit.QemuImg;
import org.vmsnap.testkit.TestGuest;

/**
 * The state folder of a RUNNING domain is lost ({@code rm -rf}); the user defines the domain's XML
 * again and runs {@code recover}. vmsnap must find the QEMU that still runs (its run folder lives
 * outside the state folder), restore the snapshot tree exactly, and go on working with that QEMU:
 * a further quiesced live snapshot, a live delete, a clean shutdown, the guest's records 1..n.
 */
class RecoverRunningIT {
    @TempDir
    Path dir;

    /** What a user sees of a domain's snapshot metadata, field by field. */
    private static Map<String, String> view(String domain) {
        Map<String, String> v = new LinkedHashMap<>();
        v.put("domstate", ok("domstate", domain, "--reason"));
        v.put("domblklist", ok("domblklist", domain));
        v.put("tree", ok("snapshot-list", domain, "--tree"));
        v.put("list", ok("snapshot-list", domain, "--parent"));
        v.put("current", ok("snapshot-current", domain, "--name"));
        for (String s : ok("snapshot-list", domain, "--name").strip().split("\n")) {
            v.put("dumpxml " + s, ok("snapshot-dumpxml", domain, s));
        }
        return v;
    }

    private static void wipe(Path folder) throws IOException {
        try (Stream<Path> all = Files.walk(folder)) {
            for (Path p : all.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    @Test
    void aRunningDomainWhoseStateFolderWasLostIsFoundAgainWithItsTree() throws Exception {
        try (LiveDomain d = LiveDomain.define(dir, "r", 2)) {
            d.startAndAwaitReady();
            d.awaitSerial(0, TestGuest.SECOND_DISK_LINE);
            ok("snapshot-create-as", "r", "e1", "first one", "--disk-only", "--quiesce");
            ok("snapshot-create-as", "r", "e2", "--disk-only");
            ok("snapshot-create-as", "r", "e3", "--disk-only", "--quiesce");
            ok("snapshot-delete", "r", "e2"); // live, below the active image
            Map<String, String> before = view("r");
            long pid = d.pid();

            wipe(d.home);
            ok("define", dir.resolve("r.xml").toString());
            assertThat(ok("domstate", "r")).as("the QEMU that still runs is found through its run folder")
                    .isEqualTo("running\n\n");
            String report = ok("recover", "r");
            assertThat(view("r")).as("recover's report was:%n%s", report).isEqualTo(before);
            assertThat(d.pid()).isEqualTo(pid);

            // vmsnap goes on with that QEMU.
            ok("snapshot-create-as", "r", "e4", "--disk-only", "--quiesce");
            ok("snapshot-delete", "r", "e3");
            assertThat(ok("snapshot-list", "r", "--name")).isEqualTo("e1\ne4\n\n");
            long last = d.awaitCounters(d.logSize()).getLast().n();
            ok("shutdown", "r");
            d.awaitState("shut off (shutdown)", Duration.ofSeconds(60));
            List<Path> tops = List.of(LiveSnapshotIT.source("r", "vda"), LiveSnapshotIT.source("r", "vdb"));
            for (Path p : tops) {
                assertThat(QemuImg.check(p).exitCode()).as("qemu-img check %s", p).isZero();
            }
            TestGuest.DiskPair end = TestGuest.readDiskPair(tops.get(0), tops.get(1), "qcow2");
            assertThat(end.first().isContiguous()).as("vda: records 1..n").isTrue();
            assertThat(end.second().isContiguous()).as("vdb: records 1..n").isTrue();
            assertThat(end.first().last()).isGreaterThanOrEqualTo(last);
        }
    }
}
