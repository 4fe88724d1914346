package org.vmsnap.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;

import picocli.CommandLine.Command;

/**
 * Hidden {@code vmsnap aot-training}: the launcher runs it once after a build, with
 * -XX:AOTCacheOutput, so that the classes of the common commands are in the AOT cache.
 * Runs create/info/check/map/snapshot (and convert/rebase/commit/resize) on a small raw and a
 * small qcow2 image, then the VM part of
 * the demo (define, snapshot-create/-list/-revert/-delete...) in a temporary folder, then the
 * live verbs on a running QEMU ({@link LiveTraining}); prints nothing and exits 0 when every
 * offline command worked.
 */
@Command(name = "aot-training", hidden = true)
public final class AotTrainingCommand implements java.util.concurrent.Callable<Integer> {

    @Override
    public Integer call() throws IOException {
        Path work = Files.createTempDirectory("vmsnap-aot-");
        PrintWriter sink = new PrintWriter(Writer.nullWriter());
        // Records of the training images stay in the temporary folder, not the user's state
        // folder, and the record paths are trained as a real command uses them.
        org.vmsnap.qcow2.VerifiedImages.rememberIn(work.resolve("verified-images"));
        try {
            String raw = work.resolve("train.raw").toString();
            String qcow2 = work.resolve("train.qcow2").toString();
            String big = work.resolve("train-big.qcow2").toString();
            String overlay = work.resolve("train-overlay.qcow2").toString();
            String[][] steps = {
                {"img", "create", "-q", "-f", "raw", raw, "1M"},
                {"img", "info", raw},
                {"img", "map", "--output=json", raw},
                {"img", "create", "-q", "-f", "qcow2", qcow2, "1M"},
                {"img", "info", qcow2},
                {"img", "info", "--output=json", qcow2},
                {"img", "check", qcow2},
                {"img", "map", qcow2},
                {"img", "map", "--output=json", qcow2},
                {"img", "compare", raw, qcow2},
                {"img", "snapshot", "-c", "train", qcow2},
                {"img", "snapshot", "-l", qcow2},
                {"img", "snapshot", "-a", "train", qcow2},
                {"img", "snapshot", "-d", "train", qcow2},
                // Every cluster allocated (sparse file): the snapshot verbs' per-cluster loops
                // run 16384 times, so their profiles are in the cache and the JIT compiles them
                // early in a real command on a large image.
                {"img", "create", "-q", "-f", "qcow2", "-o", "preallocation=metadata", big, "1G"},
                {"img", "snapshot", "-c", "train", big},
                {"img", "snapshot", "-a", "train", big},
                {"img", "snapshot", "-d", "train", big},
                // The data verbs on 1 MiB images: their classes (not their loops' speed) are what
                // a command's start-up pays for.
                {"img", "convert", "-O", "raw", qcow2, work.resolve("out.raw").toString()},
                {"img", "convert", "-O", "qcow2", raw, work.resolve("out.qcow2").toString()},
                {"img", "convert", "-c", "-O", "qcow2", qcow2, work.resolve("out-c.qcow2").toString()},
                {"img", "create", "-q", "-f", "qcow2", "-b", qcow2, "-F", "qcow2", overlay},
                {"img", "info", "--backing-chain", overlay},
                {"img", "rebase", "-b", work.resolve("out.qcow2").toString(), "-F", "qcow2", overlay},
                {"img", "commit", overlay},
                {"img", "resize", work.resolve("out.qcow2").toString(), "2M"},
            };
            int worst = 0;
            for (String[] step : steps) {
                worst = Math.max(worst, Main.run(sink, sink, step));
            }
            // A command string ('cmd1; cmd2'), as several commands in one JVM run.
            worst = Math.max(worst, Main.run(sink, sink, "img info '" + qcow2 + "'; img snapshot -l " + qcow2));
            // The VM commands (define, snapshot-*, ...) on the demo's own state folder.
            new VmDemo(sink, sink, Files.createDirectories(work.resolve("vm"))).run();
            // The verbs of a running domain, when QEMU is installed (its failures are not the training's).
            new LiveTraining(sink, Files.createDirectories(work.resolve("live"))).run();
            return worst;
        } finally {
            // Off again (the in-process default): run inside a test JVM, later commands would
            // otherwise write records into the deleted folder and leave it behind in /tmp.
            org.vmsnap.qcow2.VerifiedImages.rememberIn(null);
            DemoCommand.deleteTree(work);
        }
    }
}
