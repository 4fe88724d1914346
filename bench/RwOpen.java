import java.nio.file.Path;
import org.vmsnap.qcow2.OpenOptions;
import org.vmsnap.qcow2.Qcow2Image;

/**
 * The read-write open alone, inside one JVM: opens IMAGE read-write and closes it COUNT times
 * and prints each time in ms (the first is the cold one a CLI command pays). With RECORDS
 * (a folder) the VerifiedImages records are on, as in the CLI; without, every open walks.
 * Run by bench/rwopen.sh:  java -cp cli/target/vmsnap.jar bench/RwOpen.java IMAGE COUNT [RECORDS]
 */
public class RwOpen {
    public static void main(String[] args) throws Exception {
        if (args.length > 2) {
            // By reflection, so the same file runs against a jar from before VerifiedImages.
            Class.forName("org.vmsnap.qcow2.VerifiedImages").getMethod("rememberIn", Path.class)
                    .invoke(null, Path.of(args[2]));
        }
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < Integer.parseInt(args[1]); i++) {
            long t = System.nanoTime();
            try (Qcow2Image img = Qcow2Image.open(Path.of(args[0]), OpenOptions.readWrite())) {
                img.size();
            }
            out.append(String.format("%.1f ", (System.nanoTime() - t) / 1e6));
        }
        System.out.println(out.toString().trim());
    }
}
