package org.vmsnap.qcow2;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.vmsnap.qcow2.engine.ImageCreator;
import org.vmsnap.qcow2.io.MemoryBlockStore;

/**
 * The chain view answers like the chain (statuses and bytes) and asks each layer about each
 * of its runs once during a sequential pass, however deep the chain and however finely the
 * upper layers are interleaved.
 */
class ChainViewTest {
    private static final int CLUSTER = 65536;

    /** Counts the status lookups a layer answers. */
    private static final class Counting implements BlockDevice {
        final BlockDevice inner;
        long statusCalls;

        Counting(BlockDevice inner) {
            this.inner = inner;
        }

        @Override public Path path() { return inner.path(); }
        @Override public String format() { return inner.format(); }
        @Override public long size() { return inner.size(); }
        @Override public boolean isReadOnly() { return inner.isReadOnly(); }
        @Override public void read(long o, ByteBuffer dst) throws IOException { inner.read(o, dst); }
        @Override public void write(long o, ByteBuffer src) throws IOException { inner.write(o, src); }
        @Override public void writeZeroes(long o, long n) throws IOException { inner.writeZeroes(o, n); }
        @Override public void discard(long o, long n) throws IOException { inner.discard(o, n); }
        @Override public void flush() throws IOException { inner.flush(); }
        @Override public long allocatedFileBytes() throws IOException { return inner.allocatedFileBytes(); }
        @Override public void close() throws IOException { inner.close(); }

        @Override
        public BlockStatus blockStatus(long o, long max) throws IOException {
            statusCalls++;
            return inner.blockStatus(o, max);
        }
    }

    /** A standalone in-memory qcow2 layer with {@code value} written at the given clusters. */
    private static Qcow2Image layer(String name, long size, int value, long... clusters) throws IOException {
        MemoryBlockStore store = new MemoryBlockStore(Path.of(name));
        ImageCreator.create(store, Qcow2CreateOptions.ofSize(size));
        Qcow2Image img = Qcow2Image.openStore(store, false, null);
        byte[] data = new byte[CLUSTER];
        Arrays.fill(data, (byte) value);
        for (long c : clusters) {
            img.write(c * CLUSTER, ByteBuffer.wrap(data));
        }
        img.flush();
        return img;
    }

    @Test
    void aSequentialPassAsksEachLayerOncePerRun() throws IOException {
        int depth = 64;
        int clusters = 256;
        long size = (long) clusters * CLUSTER;
        List<Counting> layers = new ArrayList<>();
        byte[] expected = new byte[(int) size];
        // Layer 0 (just below the top) holds every other cluster; the bottom holds everything;
        // the layers between hold nothing, so every other cluster falls through all of them.
        long[] odd = new long[clusters / 2];
        for (int i = 0; i < odd.length; i++) {
            odd[i] = 2L * i + 1;
        }
        long[] all = new long[clusters];
        for (int i = 0; i < clusters; i++) {
            all[i] = i;
        }
        for (int j = 0; j < depth; j++) {
            Qcow2Image img = j == 0 ? layer("l0", size, 1, odd) : j == depth - 1 ? layer("bottom", size, 2, all)
                    : layer("l" + j, size, 0);
            layers.add(new Counting(img));
        }
        for (int c = 0; c < clusters; c++) {
            Arrays.fill(expected, c * CLUSTER, (c + 1) * CLUSTER, (byte) (c % 2 == 1 ? 1 : 2));
        }
        try (ChainView view = new ChainView(new ArrayList<>(layers), false)) {
            byte[] actual = new byte[(int) size];
            view.read(0, ByteBuffer.wrap(actual));
            assertThat(Arrays.mismatch(actual, expected)).isEqualTo(-1);
            for (long p = 0; p < size; ) {
                BlockStatus s = view.blockStatus(p, size - p);
                long c = p / CLUSTER;
                assertThat(s.depth()).as("depth at cluster %d", c).isEqualTo(c % 2 == 1 ? 0 : depth - 1);
                assertThat(s.present()).isTrue();
                p += s.lengthBytes();
            }
            // Layer 0 has one run per cluster (alternating); each empty layer is one run
            // (its whole disk), asked again only when a pass starts over; the bottom is one run.
            assertThat(layers.getFirst().statusCalls).isLessThanOrEqualTo(2L * clusters + 4);
            for (int j = 1; j < depth; j++) {
                assertThat(layers.get(j).statusCalls).as("status lookups of layer %d", j).isLessThanOrEqualTo(4);
            }
        }
    }

    @Test
    void zerosPastAShortLayerBelongToTheLayerAbove() throws IOException {
        long big = 8L * CLUSTER;
        long small = 2L * CLUSTER;
        Qcow2Image l0 = layer("l0", big, 0);
        Qcow2Image l1 = layer("l1", small, 0);
        Qcow2Image l2 = layer("l2", big, 7, 0, 1, 2, 3, 4, 5, 6, 7);
        try (ChainView view = new ChainView(List.of(l0, l1, l2), false)) {
            BlockStatus inside = view.blockStatus(0, big);
            assertThat(inside).isEqualTo(new BlockStatus(small, 2, true, false, true, false,
                    inside.hostOffset(), Path.of("l2")));
            BlockStatus past = view.blockStatus(small, big - small);
            // l1 is short: the zeros are l0's (depth 0 here), not present, as qemu-img map says.
            assertThat(past).isEqualTo(new BlockStatus(big - small, 0, false, true, false, false, -1, null));
            byte[] bytes = new byte[(int) big];
            view.read(0, ByteBuffer.wrap(bytes));
            for (int i = 0; i < big; i++) {
                assertThat(bytes[i]).isEqualTo((byte) (i < small ? 7 : 0));
            }
        }
    }
}
