package org.vmsnap.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;

import picocli.CommandLine.Command;

/**
 * Hidden {@code vmsnap aot-training-read}: trains the launcher's second, smaller AOT cache
 * (cli/target/vmsnap-read.aot) on the read-only verbs that touch neither QEMU nor image data:
 * img info, img snapshot -l, and the domain verbs that read the state folder only (domblklist,
 * dumpxml, snapshot-list/-info/-current/-parent/-dumpxml). With JDK 25's AOT class linking the
 * JVM loads every class of its cache at every start (~33 us each), so these short commands
 * start faster from a cache of about 2620 classes than from the full one of about 3280.
 * Built alone by Main.commandPath (not the whole command tree as aot-training is), and each
 * step builds only its own command, as a real run does. Prints nothing; exits 0 when every
 * step worked.
 */
@Command(name = "aot-training-read", hidden = true)
public final class AotReadTrainingCommand implements java.util.concurrent.Callable<Integer> {

    @Override
    public Integer call() throws IOException {
        Path work = Files.createTempDirectory("vmsnap-aot-read-");
        PrintWriter sink = new PrintWriter(Writer.nullWriter());
        org.vmsnap.qcow2.VerifiedImages.rememberIn(work.resolve("verified-images"));
        String previous = System.getProperty("vmsnap.home");
        System.setProperty("vmsnap.home", work.resolve("state").toString());
        try {
            // The demo's two-disk domain, shut off, and one internal snapshot in an image (so that
            // img snapshot -l reads a table): the setup's classes (create, define, img snapshot -c)
            // are the price of having something to read. A domain snapshot (snapshot-create-as)
            // would add ~150 classes of plans and journals to every start for ~14 that
            // snapshot-list/-info load from the jar without it.
            org.vmsnap.qcow2.Qcow2Image.create(work.resolve("system.qcow2"),
                    org.vmsnap.qcow2.Qcow2CreateOptions.ofSize(VmDemo.DISK_BYTES)).close();
            org.vmsnap.qcow2.Qcow2Image.create(work.resolve("data.qcow2"),
                    org.vmsnap.qcow2.Qcow2CreateOptions.ofSize(VmDemo.DISK_BYTES)).close();
            Path xml = work.resolve("demo.xml");
            Files.writeString(xml, VmDemo.bundledXml().replace("@DIR@", work.toString()));
            String image = work.resolve("system.qcow2").toString();
            String[][] steps = {
                {"define", xml.toString()},
                {"img", "snapshot", "-c", "s1", image},
                {"img", "info", image},
                {"img", "info", "--output=json", image},
                {"img", "snapshot", "-l", image},
                {"domblklist", "demo"},
                {"domblklist", "demo", "--details"},
                {"dumpxml", "demo"},
                {"snapshot-list", "demo"},
                {"snapshot-list", "demo", "--tree"},
            };
            int worst = 0;
            for (String[] step : steps) {
                worst = Math.max(worst, Main.run(sink, sink, step));
            }
            return worst;
        } finally {
            if (previous == null) {
                System.clearProperty("vmsnap.home");
            } else {
                System.setProperty("vmsnap.home", previous);
            }
            DemoCommand.deleteTree(work);
        }
    }
}
