package org.vmsnap.qcow2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.vmsnap.qcow2.Chains.KIB;
import static org.vmsnap.qcow2.Chains.MIB;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a commit moves, where it lands, and what the overlay holds afterwards. */
class ImageCommitTest {

    @TempDir
    Path dir;

    private Path base;
    private Path mid;
    private Path top;

    /** base (0xaa in the first MiB) <- mid (0xbb at 512K..1.5M) <- top (0xcc at 100K+10K, zeros at 512K+64K). */
    private void chain(Qcow2CreateOptions baseOptions) throws IOException {
        base = Chains.qcow2(dir.resolve("base.qcow2"), baseOptions);
        Chains.fill(base, 0, MIB, 0xaa);
        mid = Chains.qcow2(dir.resolve("mid.qcow2"), 4 * MIB, "base.qcow2", "qcow2");
        Chains.fill(mid, 512 * KIB, MIB, 0xbb);
        top = Chains.qcow2(dir.resolve("top.qcow2"), 4 * MIB, "mid.qcow2", "qcow2");
        Chains.fill(top, 100 * KIB, 10 * KIB, 0xcc);
        Chains.zero(top, 512 * KIB, 64 * KIB);
    }

    @Test
    void commitMovesTheOverlayIntoItsBackingFileAndEmptiesIt() throws IOException {
        chain(Qcow2CreateOptions.ofSize(4 * MIB));
        byte[] topView = Chains.view(top);
        byte[] baseView = Chains.view(base);
        ImageCommit.Result r = ImageCommit.commit(top, null, null, false, Progress.NONE);
        assertThat(r.baseDepth()).isEqualTo(1);
        assertThat(r.emptied()).isTrue();
        assertThat(r.base()).isEqualTo(mid);
        assertThat(Chains.view(top)).isEqualTo(topView);
        assertThat(Chains.view(mid)).as("mid now shows what top showed").isEqualTo(topView);
        assertThat(Chains.view(base)).as("base untouched").isEqualTo(baseView);
        // The zero cluster of the overlay became zeros in mid, over mid's own 0xbb.
        assertThat(Arrays.copyOfRange(Chains.view(mid), 512 * KIB, 576 * KIB)).containsOnly(0);
        try (BlockDevice t = Images.open(top, OpenOptions.readOnlyOpen())) {
            // Emptied means unallocated (reading mid again), not zero clusters.
            assertThat(Chains.ownBytes(t)).isZero();
            assertThat(t.blockStatus(100 * KIB, 1).depth()).isEqualTo(1);
        }
        for (Path p : new Path[] {base, mid, top}) {
            assertThat(Qcow2Image.check(p, RepairMode.NONE).exitCode()).as(p.toString()).isZero();
        }
    }

    @Test
    void dropKeepsTheOverlay() throws IOException {
        chain(Qcow2CreateOptions.ofSize(4 * MIB));
        byte[] topView = Chains.view(top);
        long ownBefore;
        try (BlockDevice t = Images.open(top, OpenOptions.readOnlyOpen())) {
            ownBefore = Chains.ownBytes(t);
        }
        ImageCommit.Result r = ImageCommit.commit(top, "qcow2", null, true, Progress.NONE);
        assertThat(r.emptied()).isFalse();
        assertThat(Chains.view(mid)).isEqualTo(topView);
        try (BlockDevice t = Images.open(top, OpenOptions.readOnlyOpen())) {
            assertThat(Chains.ownBytes(t)).isEqualTo(ownBefore).isPositive();
        }
    }

    @Test
    void commitIntoABaseFurtherDownLeavesTheOverlayValid() throws IOException {
        chain(Qcow2CreateOptions.ofSize(4 * MIB));
        byte[] topView = Chains.view(top);
        byte[] midView = Chains.view(mid);
        ImageCommit.Result r = ImageCommit.commit(top, null, "base.qcow2", true, Progress.NONE);
        assertThat(r.baseDepth()).isEqualTo(2);
        assertThat(r.base()).isEqualTo(base);
        assertThat(Chains.view(top)).isEqualTo(topView);
        assertThat(Chains.view(base)).as("base shows what top showed").isEqualTo(topView);
        assertThat(Chains.view(mid)).as("mid is no longer what it was (qemu-img says so too)").isNotEqualTo(midView);
        // By absolute path too.
        assertThat(ImageCommit.commit(top, null, base.toAbsolutePath().toString(), true, Progress.NONE).baseDepth())
                .isEqualTo(2);
    }

    @Test
    void progressRunsToTheEnd() throws IOException {
        chain(Qcow2CreateOptions.ofSize(4 * MIB));
        long[] last = {-1, -1};
        ImageCommit.commit(top, null, null, false, (done, total) -> {
            assertThat(done).isGreaterThanOrEqualTo(last[0]);
            last[0] = done;
            last[1] = total;
        });
        assertThat(last).containsExactly(4 * MIB, 4 * MIB);
    }

    @Test
    void aSmallerBaseGrowsToTheOverlaysSize() throws IOException {
        chain(Qcow2CreateOptions.ofSize(2 * MIB));
        Chains.fill(top, 3 * MIB, 4 * KIB, 0xdd);
        byte[] topView = Chains.view(top);
        ImageCommit.commit(top, null, "base.qcow2", true, Progress.NONE);
        try (BlockDevice b = Images.open(base, OpenOptions.readOnlyOpen())) {
            assertThat(b.size()).isEqualTo(4 * MIB);
        }
        assertThat(Chains.view(base)).isEqualTo(topView);
        assertThat(Chains.view(top)).isEqualTo(topView);
    }

    @Test
    void commitIntoARawBackingFile() throws IOException {
        Path raw = dir.resolve("base.raw");
        Files.write(raw, new byte[2 * MIB]);
        Chains.fill(raw, 0, MIB, 0x11);
        top = Chains.qcow2(dir.resolve("top.qcow2"), 3 * MIB, "base.raw", "raw");
        Chains.fill(top, 64 * KIB, 64 * KIB, 0x22);
        Chains.zero(top, 0, 64 * KIB);
        Chains.fill(top, 2 * MIB + 4 * KIB, 4 * KIB, 0x33);
        byte[] topView = Chains.view(top);
        ImageCommit.commit(top, null, null, false, Progress.NONE);
        assertThat(Files.size(raw)).isEqualTo(3 * MIB);
        assertThat(Chains.view(raw)).isEqualTo(topView);
        assertThat(Chains.view(top)).isEqualTo(topView);
    }

    @Test
    void smallOverlayClustersIntoLargeBaseClustersAndBack() throws IOException {
        // Partial base clusters are completed from the base's own backing file (copy-on-write).
        for (int[] sizes : new int[][] {{512, 2 * MIB}, {2 * MIB, 4 * KIB}}) {
            Path d = Files.createTempDirectory(dir, "sizes");
            Path bottom = Chains.qcow2(d.resolve("bottom.qcow2"), 4 * MIB, null, null);
            Chains.fill(bottom, 0, 4 * MIB, 0x44);
            Path b = Chains.qcow2(d.resolve("b.qcow2"), Qcow2CreateOptions.ofSize(4 * MIB).withClusterSize(sizes[1])
                    .withBacking("bottom.qcow2", "qcow2"));
            Path t = Chains.qcow2(d.resolve("t.qcow2"), Qcow2CreateOptions.ofSize(4 * MIB).withClusterSize(sizes[0])
                    .withBacking("b.qcow2", "qcow2"));
            Chains.fill(t, 3 * KIB, 5 * KIB, 0x55);
            Chains.zero(t, MIB + 512, 3 * KIB);
            byte[] view = Chains.view(t);
            ImageCommit.commit(t, null, null, false, Progress.NONE);
            assertThat(Chains.view(b)).isEqualTo(view);
            assertThat(Chains.view(t)).isEqualTo(view);
            assertThat(Qcow2Image.check(b, RepairMode.NONE).exitCode()).isZero();
        }
    }

    @Test
    void commitTwiceGivesTheSameResult() throws IOException {
        chain(Qcow2CreateOptions.ofSize(4 * MIB));
        byte[] topView = Chains.view(top);
        ImageCommit.commit(top, null, null, true, Progress.NONE);
        String midDigest = Chains.digest(mid);
        ImageCommit.commit(top, null, null, true, Progress.NONE);
        assertThat(Chains.view(mid)).isEqualTo(topView);
        assertThat(Chains.digest(mid)).as("a second commit of the same data changes nothing").isEqualTo(midDigest);
    }
}
