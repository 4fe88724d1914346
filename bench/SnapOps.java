import java.nio.file.Path;
import org.vmsnap.qcow2.OpenOptions;
import org.vmsnap.qcow2.Qcow2Image;
import org.vmsnap.qcow2.VerifiedImages;

/**
 * The internal snapshot verbs inside one JVM (no start-up): on IMAGE, COUNT rounds of
 * create "b", apply "b", delete "b", each its own open and close as one CLI command does.
 * VerifiedImages records are on (in RECORDS, a folder), as in the CLI, so an open does not walk.
 * Prints one line per verb: the verb, then each round's "op/whole/cpu" ms, where op is the
 * engine call alone (wall), whole is open + op + close (wall) and cpu the thread's CPU time
 * of the whole (the machines are shared: CPU time shows the work without the waits).
 * Run by bench/snapops.sh:  java -cp cli/target/vmsnap.jar bench/SnapOps.java IMAGE COUNT RECORDS
 */
public class SnapOps {
    public static void main(String[] args) throws Exception {
        Path image = Path.of(args[0]);
        int count = Integer.parseInt(args[1]);
        VerifiedImages.rememberIn(Path.of(args[2]));
        try (Qcow2Image img = Qcow2Image.open(image, OpenOptions.readWrite())) {
            img.size(); // one walk (if no record), so the rounds below are all remembered opens
        }
        java.lang.management.ThreadMXBean cpu = java.lang.management.ManagementFactory.getThreadMXBean();
        StringBuilder[] lines = {new StringBuilder("create"), new StringBuilder("apply"), new StringBuilder("delete")};
        for (int i = 0; i < count; i++) {
            for (int verb = 0; verb < 3; verb++) {
                long t0 = System.nanoTime();
                long c0 = cpu.getCurrentThreadCpuTime();
                long op;
                try (Qcow2Image img = Qcow2Image.open(image, OpenOptions.readWrite())) {
                    long t1 = System.nanoTime();
                    switch (verb) {
                        case 0 -> img.createSnapshot("b");
                        case 1 -> img.applySnapshot("b");
                        default -> img.deleteSnapshot("b");
                    }
                    op = System.nanoTime() - t1;
                }
                long whole = System.nanoTime() - t0;
                long wholeCpu = cpu.getCurrentThreadCpuTime() - c0;
                lines[verb].append(String.format(" %.1f/%.1f/%.1f", op / 1e6, whole / 1e6, wholeCpu / 1e6));
            }
        }
        for (StringBuilder l : lines) {
            System.out.println(l);
        }
    }
}
