package org.vmsnap.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.cli.live.LiveDomain;

/**
 * The live part of aot-training runs every live verb it trains on a real QEMU, and leaves
 * nothing behind: no QEMU, no domain, the caller's state folder setting as it was.
 */
class LiveTrainingIT {
    @TempDir
    Path dir;

    @Test
    void everyLiveStepWorksAndNothingIsLeftRunning() throws Exception {
        String before = System.getProperty("vmsnap.home");
        StringWriter text = new StringWriter();
        boolean worked = new LiveTraining(new PrintWriter(text, true), dir).run();
        assertThat(worked).as(text.toString()).isTrue();
        assertThat(text.toString()).contains("Domain snapshot e1 created", "Domain snapshot e2 created",
                "Domain snapshot e2 deleted", "Domain snapshot e1 deleted", "Domain 'demo' destroyed");
        assertThat(LiveDomain.qemusUnder(dir)).isEmpty();
        assertThat(dir.resolve("state").resolve("demo")).doesNotExist();
        // Both external snapshots were deleted by active commit: the disks are their base images again.
        assertThat(Files.exists(dir.resolve("vda.e1"))).isFalse();
        assertThat(System.getProperty("vmsnap.home")).isEqualTo(before);
    }
}
