package org.vmsnap.cli.live;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.cli.Cli;

/** {@code vmsnap demo}'s running VM: live snapshot, tree, live delete, destroy, and what the records prove. */
class LiveDemoIT {
    @TempDir
    Path dir;

    @Test
    void theRunningVmPartShowsALiveSnapshotAndALiveDeleteThatLoseNothing() {
        String before = System.getProperty("vmsnap.home");
        Cli.Run r = Cli.run("demo", "--live-only", "--dir", dir.toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        String out = r.out();
        assertThat(out).contains("$ vmsnap start live\nDomain 'live' started")
                .contains("$ vmsnap snapshot-create-as live before-upgrade --disk-only --quiesce --atomic\n"
                        + "Domain snapshot before-upgrade created")
                .containsPattern("# Its frozen images: clean for e2fsck -fn, no journal to replay; records 1\\.\\.\\d+"
                        + " on vda and 1\\.\\.\\d+ on vdb \\(one instant\\)")
                .contains("$ vmsnap snapshot-delete live before-upgrade\nDomain snapshot before-upgrade deleted")
                .containsPattern("# Restored: the counter goes on at \\d+ in the same boot")
                .containsPattern("after the revert it counts from \\d+: back at the checkpoint's moment, same boot")
                .contains("Domain snapshot cp2 created")
                .containsPattern("disks on new overlays over the checkpoint's images\\) it counts from \\d+: back at the"
                        + " checkpoint's moment, same boot")
                .contains("$ vmsnap destroy live\nDomain 'live' destroyed")
                .containsPattern("vda holds records 1\\.\\.\\d+, none missing; vdb 1\\.\\.\\d+, none missing");
        assertThat(System.getProperty("vmsnap.home")).isEqualTo(before);
        assertThat(LiveDomain.qemusUnder(dir)).isEmpty();
    }
}
