package org.vmsnap.qcow2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.vmsnap.qcow2.Chains.KIB;
import static org.vmsnap.qcow2.Chains.MIB;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Safe rebases keep the guest view and move only what differs; unsafe ones touch only the header. */
class ImageRebaseTest {
    private static final int CLUSTER = 64 * KIB;

    @TempDir
    Path dir;

    private Path base;
    private Path mid;
    private Path top;

    /** base (0xaa, 2 MiB) <- mid (three 0xbb clusters, one zero cluster over base data) <- top (one cluster). */
    private void chain() throws IOException {
        base = Chains.qcow2(dir.resolve("base.qcow2"), 4 * MIB, null, null);
        Chains.fill(base, 0, 2 * MIB, 0xaa);
        mid = Chains.qcow2(dir.resolve("mid.qcow2"), 4 * MIB, "base.qcow2", "qcow2");
        Chains.fill(mid, 3L * CLUSTER, 3 * CLUSTER, 0xbb);
        Chains.zero(mid, 10L * CLUSTER, CLUSTER);
        top = Chains.qcow2(dir.resolve("top.qcow2"), 4 * MIB, "mid.qcow2", "qcow2");
        Chains.fill(top, 4L * CLUSTER, 100, 0xcc);
    }

    private long ownBytes(Path image) throws IOException {
        try (BlockDevice d = Images.open(image, OpenOptions.readOnlyOpen())) {
            return Chains.ownBytes(d);
        }
    }

    @Test
    void rebaseOntoTheBaseMovesOnlyWhatTheIntermediateChanged() throws IOException {
        chain();
        byte[] view = Chains.view(top);
        ImageRebase.rebase(top, null, "base.qcow2", "qcow2", false, Progress.NONE);
        assertThat(Chains.view(top)).isEqualTo(view);
        try (Qcow2Image t = Qcow2Image.open(top, OpenOptions.readOnlyOpen())) {
            assertThat(t.backingFileName()).isEqualTo("base.qcow2");
            assertThat(t.backingFormat()).isEqualTo("qcow2");
            // top's own cluster, mid's other two data clusters and mid's zero cluster: nothing else.
            assertThat(Chains.ownBytes(t)).isEqualTo(4L * CLUSTER);
            BlockStatus zero = t.blockStatus(10L * CLUSTER, CLUSTER);
            assertThat(zero.depth()).isZero();
            assertThat(zero.zero()).as("zeros over base data are a zero cluster").isTrue();
        }
        assertThat(Qcow2Image.check(top, RepairMode.NONE).exitCode()).isZero();
    }

    @Test
    void flattenCopiesEverythingTheChainShowed() throws IOException {
        chain();
        byte[] view = Chains.view(top);
        ImageRebase.rebase(top, "qcow2", "", null, false, Progress.NONE);
        try (Qcow2Image t = Qcow2Image.open(top, OpenOptions.readOnlyOpen())) {
            assertThat(t.backingFileName()).isNull();
            assertThat(t.backing()).isNull();
            assertThat(Chains.view(t)).isEqualTo(view);
            // Zeros are not copied: base's 2 MiB (with mid's and top's clusters inside it)
            // except mid's zero cluster.
            assertThat(Chains.ownBytes(t)).isEqualTo(2L * MIB - CLUSTER);
        }
    }

    @Test
    void rebaseOntoASmallerBackingFileKeepsWhatLiesPastItsEnd() throws IOException {
        Path big = Chains.qcow2(dir.resolve("big.qcow2"), 4 * MIB, null, null);
        Chains.fill(big, 0, 4 * MIB, 0x11);
        Path small = Chains.qcow2(dir.resolve("small.qcow2"), MIB, null, null);
        Chains.fill(small, 0, MIB, 0x11);
        Path img = Chains.qcow2(dir.resolve("img.qcow2"), 4 * MIB, "big.qcow2", "qcow2");
        Chains.fill(img, 100 * KIB, 10 * KIB, 0x22);
        byte[] view = Chains.view(img);
        ImageRebase.rebase(img, null, "small.qcow2", "qcow2", false, Progress.NONE);
        assertThat(Chains.view(img)).isEqualTo(view);
        try (BlockDevice d = Images.open(img, OpenOptions.readOnlyOpen())) {
            assertThat(Chains.ownsAll(d, MIB, 3 * MIB)).as("the part past small's end is the image's own").isTrue();
            assertThat(d.blockStatus(0, CLUSTER).depth()).as("the common part still reads small").isEqualTo(1);
        }
    }

    @Test
    void rebaseOntoALargerBackingFileKeepsTheZerosPastTheOldEnd() throws IOException {
        for (String compat : new String[] {"1.1", "0.10"}) {
            Path d = Files.createTempDirectory(dir, compat);
            Path old = Chains.qcow2(d.resolve("old.qcow2"), MIB, null, null);
            Chains.fill(old, 0, MIB, 0x11);
            Path bigger = Chains.qcow2(d.resolve("new.qcow2"), 4 * MIB, null, null);
            Chains.fill(bigger, 0, 4 * MIB, 0x11);
            Path img = Chains.qcow2(d.resolve("img.qcow2"), Qcow2CreateOptions.ofSize(4 * MIB).withCompat(compat)
                    .withBacking("old.qcow2", "qcow2"));
            byte[] view = Chains.view(img);
            ImageRebase.rebase(img, null, "new.qcow2", "qcow2", false, Progress.NONE);
            assertThat(Chains.view(img)).as(compat).isEqualTo(view);
            assertThat(Qcow2Image.check(img, RepairMode.NONE).exitCode()).isZero();
        }
    }

    @Test
    void rebaseOfAStandaloneImageOntoABackingFileKeepsItsView() throws IOException {
        Path b = Chains.qcow2(dir.resolve("b.qcow2"), 2 * MIB, null, null);
        Chains.fill(b, 0, 2 * MIB, 0x77);
        Path img = Chains.qcow2(dir.resolve("img.qcow2"), 2 * MIB, null, null);
        Chains.fill(img, MIB, 4 * KIB, 0x01);
        byte[] view = Chains.view(img);
        ImageRebase.rebase(img, null, "b.qcow2", "qcow2", false, Progress.NONE);
        assertThat(Chains.view(img)).isEqualTo(view);
    }

    @Test
    void unsafeRebaseOnlyRewritesTheHeader() throws IOException {
        chain();
        ImageRebase.rebase(top, null, "sub/../base.qcow2", "qcow2", true, Progress.NONE);
        try (Qcow2Image t = Qcow2Image.open(top, OpenOptions.readOnlyOpen().withOpenBacking(false))) {
            assertThat(t.backingFileName()).as("stored as given").isEqualTo("sub/../base.qcow2");
            assertThat(t.backingFormat()).isEqualTo("qcow2");
            assertThat(Chains.ownBytes(t)).isEqualTo(CLUSTER);
        }
        // The name need not exist for -u; and -u with no name drops the backing file.
        ImageRebase.rebase(top, null, "later.qcow2", "raw", true, Progress.NONE);
        ImageRebase.rebase(top, null, null, null, true, Progress.NONE);
        try (Qcow2Image t = Qcow2Image.open(top, OpenOptions.readOnlyOpen())) {
            assertThat(t.backingFileName()).isNull();
            assertThat(t.backingFormat()).isNull();
        }
        assertThat(Qcow2Image.check(top, RepairMode.NONE).exitCode()).isZero();
    }

    @Test
    void rebaseOntoTheSameChainCopiesNothing() throws IOException {
        chain();
        byte[] view = Chains.view(top);
        ImageRebase.rebase(top, null, "mid.qcow2", "qcow2", false, Progress.NONE);
        assertThat(ownBytes(top)).isEqualTo(CLUSTER);
        assertThat(Chains.view(top)).isEqualTo(view);
    }
}
