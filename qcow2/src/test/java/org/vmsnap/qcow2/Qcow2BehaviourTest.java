package org.vmsnap.qcow2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.vmsnap.qcow2.MemoryImages.Backing;
import org.vmsnap.qcow2.engine.ImageChecker;
import org.vmsnap.testkit.ReferenceDisk;

/**
 * The same behaviour over cluster sizes x refcount widths x backing x reopen: every step is
 * compared with a reference disk, and the image must check clean at the end.
 */
class Qcow2BehaviourTest {

    static List<Arguments> combinations() {
        List<Arguments> out = new ArrayList<>();
        for (int cluster : new int[] {512, 4096, 65536, 2 << 20}) {
            for (int refcountBits : new int[] {1, 16, 64}) {
                for (Backing backing : Backing.values()) {
                    for (boolean reopen : new boolean[] {false, true}) {
                        out.add(Arguments.of(cluster, refcountBits, backing, reopen));
                    }
                }
            }
        }
        return out;
    }

    private static byte[] pattern(int length, int seed) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            b[i] = (byte) (seed * 31 + i * 7 + (i >>> 9));
        }
        return b;
    }

    @ParameterizedTest(name = "cluster={0} refcount_bits={1} backing={2} reopen={3}")
    @MethodSource("combinations")
    void readsBackWhatWasWritten(int cluster, int refcountBits, Backing backing, boolean reopen) throws Exception {
        long size = Math.max(8L * cluster, 4L << 20) + 1536; // not a multiple of the cluster size
        size = (size + 511) & ~511L;
        Qcow2CreateOptions o = Qcow2CreateOptions.ofSize(size).withClusterSize(cluster).withRefcountBits(refcountBits);
        MemoryImages.Layered layers = new MemoryImages.Layered(o, backing, size - cluster);
        ReferenceDisk base = backing == Backing.NONE ? null
                : backing == Backing.RAW ? ReferenceDisk.raw(size - cluster) : ReferenceDisk.qcow2(size - cluster, 65536, 3);
        if (base != null) {
            try (BlockDevice b = layers.openBaseForWriting()) {
                byte[] data = pattern((int) Math.min(size - cluster, 3L << 20), 99);
                b.write(0, ByteBuffer.wrap(data));
                base.write(0, data);
            }
        }
        ReferenceDisk model = base == null ? ReferenceDisk.qcow2(size, cluster, 3) : ReferenceDisk.overlay(base, cluster, 3);
        if (base != null) {
            model.resize(size); // the overlay is larger than its backing: the rest reads zeros
        }
        Qcow2Image img = layers.open();
        try {
            // Aligned, unaligned, spanning clusters, at the very end.
            img = step(img, layers, reopen, model, i -> i.write(0, ByteBuffer.wrap(pattern(cluster, 1))),
                    m -> m.write(0, pattern(cluster, 1)));
            img = step(img, layers, reopen, model, i -> i.write(cluster / 2 + 3, ByteBuffer.wrap(pattern(3 * cluster, 2))),
                    m -> m.write(cluster / 2 + 3, pattern(3 * cluster, 2)));
            long endOff = size - 700;
            img = step(img, layers, reopen, model, i -> i.write(endOff, ByteBuffer.wrap(pattern(700, 3))),
                    m -> m.write(endOff, pattern(700, 3)));
            // Overwrite in place.
            img = step(img, layers, reopen, model, i -> i.write(10, ByteBuffer.wrap(pattern(100, 4))),
                    m -> m.write(10, pattern(100, 4)));
            // Zeroes: partial and whole clusters.
            img = step(img, layers, reopen, model, i -> i.writeZeroes(cluster - 100, 2L * cluster + 200),
                    m -> m.writeZeroes(cluster - 100, 2L * cluster + 200));
            // Discard whole clusters (data over a backing file reads as zeros afterwards in v3).
            img = step(img, layers, reopen, model, i -> i.discard(0, 2L * cluster),
                    m -> m.discard(0, 2L * cluster));
            // Write again over discarded space, then grow.
            img = step(img, layers, reopen, model, i -> i.write(cluster, ByteBuffer.wrap(pattern(cluster + 5, 5))),
                    m -> m.write(cluster, pattern(cluster + 5, 5)));
            long grown = size + 64L * cluster + 4096;
            img = step(img, layers, reopen, model, i -> i.resize(grown), m -> m.resize(grown));
            img = step(img, layers, reopen, model, i -> i.write(grown - 5000, ByteBuffer.wrap(pattern(5000, 6))),
                    m -> m.write(grown - 5000, pattern(5000, 6)));
            img.flush();
            assertThat(model.firstDifference(img::read)).as("first difference").isEqualTo(-1);
        } finally {
            img.close();
        }
        CheckResult check = ImageChecker.check(layers.topStore(), RepairMode.NONE);
        assertThat(check.corruptions()).as("corruptions %s", check.messages()).isZero();
        assertThat(check.leaks()).as("leaks %s", check.messages()).isZero();
    }

    interface ImageOp {
        void apply(Qcow2Image img) throws IOException;
    }

    interface ModelOp {
        void apply(ReferenceDisk m);
    }

    private static Qcow2Image step(Qcow2Image img, MemoryImages.Layered layers, boolean reopen, ReferenceDisk model,
                                   ImageOp op, ModelOp mop) throws IOException {
        op.apply(img);
        mop.apply(model);
        assertThat(model.firstDifference(img::read)).as("first difference").isEqualTo(-1);
        if (reopen) {
            img.close();
            img = layers.open();
            assertThat(model.firstDifference(img::read)).as("first difference after reopen").isEqualTo(-1);
        }
        return img;
    }

    @ParameterizedTest(name = "cluster={0}")
    @MethodSource("clusterSizes")
    void shrinkOnlyWhenTheCutOffPartIsUnallocated(int cluster) throws Exception {
        long size = 64L * cluster;
        MemoryImages.Layered layers = new MemoryImages.Layered(
                Qcow2CreateOptions.ofSize(size).withClusterSize(cluster), Backing.NONE, 0);
        try (Qcow2Image img = layers.open()) {
            img.write(size - cluster, ByteBuffer.wrap(pattern(cluster, 7)));
            assertThatThrownBy(() -> img.resize(size / 2)).isInstanceOf(UnsupportedFeatureException.class)
                    .hasMessageContaining("cannot shrink");
            assertThat(img.size()).isEqualTo(size);
            img.discard(size - cluster, cluster);
            img.resize(size / 2);
            assertThat(img.size()).isEqualTo(size / 2);
        }
    }

    static List<Integer> clusterSizes() {
        return List.of(512, 4096, 65536, 2 << 20);
    }
}
