package org.vmsnap.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;

import picocli.CommandLine.Command;

/**
 * Hidden {@code vmsnap aot-training-img}: trains the launcher's second, smaller AOT cache
 * (cli/target/vmsnap-img.aot) on the verbs that read an image's header and tables only:
 * {@code img info} and {@code img snapshot -l}. With JDK 25's AOT class linking the JVM loads
 * every class of its cache at every start (~33 us each), so these short commands start faster
 * from a cache of about 2300 classes than from the full one of about 3300 (DESIGN-CHANGES.md,
 * aotsplit). Built alone by Main.commandPath (not the whole command tree, as aot-training is),
 * and each step builds only its own command, as a real run does. Prints nothing; exits 0 when
 * every step worked.
 */
@Command(name = "aot-training-img", hidden = true)
public final class AotImgTrainingCommand implements java.util.concurrent.Callable<Integer> {

    @Override
    public Integer call() throws IOException {
        Path work = Files.createTempDirectory("vmsnap-aot-img-");
        PrintWriter sink = new PrintWriter(Writer.nullWriter());
        org.vmsnap.qcow2.VerifiedImages.rememberIn(work.resolve("verified-images"));
        try {
            String image = work.resolve("train.qcow2").toString();
            String[][] steps = {
                // Something to read. Its create and snapshot classes are in the cache too (~80
                // more than with an image made by qemu-img and shipped in the jar: ~3 ms a start).
                {"img", "create", "-q", "-f", "qcow2", image, "1M"},
                {"img", "snapshot", "-c", "s1", image},
                {"img", "info", image},
                {"img", "info", "--output=json", image},
                {"img", "snapshot", "-l", image},
            };
            int worst = 0;
            for (String[] step : steps) {
                worst = Math.max(worst, Main.run(sink, sink, step));
            }
            return worst;
        } finally {
            // Off again (the in-process default): run inside a test JVM, later commands would
            // otherwise write records into the deleted folder and leave it behind in /tmp.
            org.vmsnap.qcow2.VerifiedImages.rememberIn(null);
            DemoCommand.deleteTree(work);
        }
    }
}
