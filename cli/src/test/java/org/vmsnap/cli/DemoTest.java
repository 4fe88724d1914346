package org.vmsnap.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code vmsnap demo} runs through and shows what the README promises, on its own state folder. */
class DemoTest {
    @TempDir
    Path dir;

    @Test
    void demoShowsTheTreeTheBranchAndTheDeleteInsideTheTree() throws Exception {
        String before = System.getProperty("vmsnap.home");
        Cli.Run r = Cli.run("demo", "--no-live", "--dir", dir.toString());
        assertThat(r.err()).isEmpty();
        assertThat(r.exitCode()).isZero();
        String out = r.out();
        assertThat(out).contains("Domain snapshot upgraded created")
                .contains("+- upgraded\n      |\n      +- tested")
                .contains("$ vmsnap snapshot-delete demo upgraded\nDomain snapshot upgraded deleted");
        // After the delete, tested hangs under installed and still reverts to its own data.
        String afterDelete = out.substring(out.indexOf("Domain snapshot upgraded deleted"));
        assertThat(afterDelete).contains("installed\n  |\n  +- tested\n")
                .contains("installed\n  |\n  +- experiment\n  +- tested");
        assertThat(afterDelete.substring(afterDelete.indexOf("Domain snapshot tested reverted")))
                .startsWith("Domain snapshot tested reverted\n\n# vda now reads: vda: v3: tests passed\n"
                        + "# vdb now reads: vdb: v3: tests passed");
        assertThat(out).contains("Domain snapshot installed reverted\n\n# vda now reads: vda: v1: fresh install");
        assertThat(System.getProperty("vmsnap.home")).isEqualTo(before);
        assertThat(dir.resolve("vm/system.upgraded")).doesNotExist();
        assertThat(Files.exists(dir.resolve("vm/state/demo"))).isFalse();
    }
}
