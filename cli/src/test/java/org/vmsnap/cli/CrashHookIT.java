package org.vmsnap.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.testkit.QemuImg;

/**
 * The crash hook from outside: {@code VMSNAP_CRASH_AT_STEP=N} halts a real vmsnap process
 * before step N of its plan (exit 86, no cleanup, as kill -9 would), and the next command on
 * the domain finishes or undoes the operation. Every step of a mixed internal+external create
 * and of a merging delete is cut once (the manager's scenario tests cut every operation in
 * process, in more shapes).
 */
class CrashHookIT {
    @TempDir
    Path tmp;

    record Result(int code, String out, String err) {
    }

    Result vmsnap(Path home, Integer crashAt, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-jar", Path.of("target", "vmsnap.jar").toAbsolutePath().toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("VMSNAP_HOME", home.toString());
        if (crashAt != null) {
            pb.environment().put("VMSNAP_CRASH_AT_STEP", crashAt.toString());
        }
        Process p = pb.start();
        byte[] out = p.getInputStream().readAllBytes();
        byte[] err = p.getErrorStream().readAllBytes();
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8), new String(err, StandardCharsets.UTF_8));
    }

    /** A domain with two qcow2 disks and one internal snapshot "s1", then "s2" (external). */
    Path domain(Path dir) throws Exception {
        Files.createDirectories(dir);
        Path home = dir.resolve("home");
        for (String d : List.of("a", "b")) {
            QemuImg.create(dir.resolve(d + ".qcow2"), "qcow2", 8 << 20);
        }
        Path xml = dir.resolve("vm.xml");
        Files.writeString(xml, """
                <domain type='kvm'><name>vm</name><memory unit='MiB'>64</memory><devices>
                <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='%s'/><target dev='vda' bus='virtio'/></disk>
                <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='%s'/><target dev='vdb' bus='virtio'/></disk>
                </devices></domain>""".formatted(dir.resolve("a.qcow2"), dir.resolve("b.qcow2")));
        // Set up in this process: only the command under test runs in a process of its own.
        var domains = new org.vmsnap.manager.DomainService(home);
        domains.define(Files.readString(xml));
        var request = new org.vmsnap.manager.xml.SnapshotDef(null, null, null, 0, null, null, null, List.of(), null);
        domains.snapshots("vm").create(request.withName("s1"), org.vmsnap.manager.CreateFlags.none());
        domains.snapshots("vm").create(request.withName("s2"),
                new org.vmsnap.manager.CreateFlags(false, false, false, true, false));
        return home;
    }

    /** Runs {@code args} crashing at step 1, 2, ... until it completes; checks after every crash. */
    void cutEveryStep(String what, String... args) throws Exception {
        Path reference = domain(tmp.resolve(what + "-uncut"));
        String before = vmsnap(reference, null, "snapshot-list", "vm", "--tree").out();
        assertThat(vmsnap(reference, null, args).code()).isZero();
        String expectAfter = vmsnap(reference, null, "snapshot-list", "vm", "--tree").out();
        for (int step = 1; step < 40; step++) {
            Path dir = tmp.resolve(what + "-" + step);
            Path home = domain(dir);
            Result r = vmsnap(home, step, args);
            String list = vmsnap(home, null, "snapshot-list", "vm", "--tree").out();
            assertThat(home.resolve("vm/journal")).as("%s cut at step %d: journal handled", what, step).doesNotExist();
            try (var files = Files.list(dir)) {
                for (Path f : files.filter(p -> p.getFileName().toString().matches("[ab]\\..*")).toList()) {
                    assertThat(QemuImg.check(f).clean()).as("qemu-img check %s after %s cut at %d", f, what, step)
                            .isTrue();
                }
            }
            if (r.code() == 0) {
                assertThat(list).as("%s ran to the end", what).isEqualTo(expectAfter);
                return;
            }
            assertThat(r.code()).as("%s cut at step %d: %s", what, step, r.err()).isEqualTo(86);
            assertThat(list).as("%s cut at step %d: old or new state", what, step).isIn(before, expectAfter);
        }
        throw new AssertionError(what + " never completed");
    }

    @Test
    void commandsOfSeveralProcessesOnOneDomainRunOneAfterTheOther() throws Exception {
        Path home = domain(tmp.resolve("concurrent"));
        List<java.util.concurrent.Future<Result>> runs = new ArrayList<>();
        var pool = java.util.concurrent.Executors.newFixedThreadPool(3);
        try {
            for (String name : List.of("c1", "c2", "c3")) {
                runs.add(pool.submit(() -> vmsnap(home, null, "snapshot-create-as", "vm", name, "--disk-only")));
            }
            for (var r : runs) {
                Result done = r.get();
                assertThat(done.code()).as(done.err()).isZero();
            }
        } finally {
            pool.shutdownNow();
        }
        // One after the other: a chain s1 - s2 - cX - cY - cZ, each external snapshot over the previous one.
        String parents = vmsnap(home, null, "snapshot-list", "vm", "--parent").out();
        for (String name : List.of("c1", "c2", "c3")) {
            assertThat(parents).containsPattern("(?m)^ " + name + " .*shutoff +(s2|c[123])\\s*$");
        }
        assertThat(vmsnap(home, null, "snapshot-list", "vm", "--leaves", "--name").out().strip()).matches("c[123]");
    }

    @Test
    void mixedCreateIsUndoneOrKept() throws Exception {
        cutEveryStep("create", "snapshot-create-as", "vm", "s3", "--diskspec", "vda,snapshot=internal", "--diskspec",
                "vdb,snapshot=external");
    }

    @Test
    void deleteThatMergesIsFinished() throws Exception {
        cutEveryStep("delete", "snapshot-delete", "vm", "s1");
    }
}
