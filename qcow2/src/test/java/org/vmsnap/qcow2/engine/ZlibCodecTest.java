package org.vmsnap.qcow2.engine;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.junit.jupiter.api.Test;
import org.vmsnap.qcow2.SeededClusters;

/**
 * zlib clusters both ways: the system's zlib with QEMU's parameters (NativeDeflate) and the
 * java.util.zip fallback. Seeded clusters of every kind and every qcow2 cluster size round-trip
 * through the codec's inflate; what does not shrink is refused; the native path shares its
 * streams between threads without mixing their output. That QEMU reads both paths' clusters,
 * and that the native path writes qemu-img's own bytes, is checked against qemu-img in
 * ZlibFallbackIT and ZlibClusterParityIT.
 */
class ZlibCodecTest {
    private static final long SEED = Long.getLong("vmsnap.seed", System.nanoTime());

    @Test
    void theSystemZlibIsUsedOnThisMachine() {
        // libz.so.1 is what qemu-img links (Debian's zlib1g): without it vmsnap's clusters differ from QEMU's.
        assertThat(NativeDeflate.instance()).as("NativeDeflate: %s", NativeDeflate.failure()).isNotNull();
        assertThat(NativeDeflate.instance().zlibVersion()).matches("1\\.\\d+(\\.\\d+)*.*");
    }

    @Test
    void everyKindOfClusterRoundTripsThroughBothPaths() throws IOException {
        Random r = new Random(SEED);
        List<String> log = new ArrayList<>();
        for (ZlibCodec codec : new ZlibCodec[] {new ZlibCodec(true), new ZlibCodec(false)}) {
            for (int bits = 9; bits <= 21; bits++) {
                int size = 1 << bits;
                for (int kind = 0; kind < SeededClusters.KINDS; kind++) {
                    byte[] src = SeededClusters.cluster(r, size, kind);
                    byte[] out = new byte[size - 1];
                    int n = codec.compress(src, size, out);
                    log.add("size " + size + " kind " + kind + " -> " + n);
                    if (kind == 2) {
                        assertThat(n).as("seed %d: random bytes do not shrink: %s", SEED, log).isEqualTo(-1);
                        continue;
                    }
                    assertThat(n).as("seed %d: %s", SEED, log).isBetween(1, size - 1);
                    byte[] back = new byte[size];
                    codec.decompress(Arrays.copyOf(out, n), n, back);
                    assertThat(back).as("seed %d: %s", SEED, log).isEqualTo(src);
                }
            }
        }
    }

    @Test
    void qemusWindowPacksARepeatedByteSeveralTimesTighterThanTheFallback() throws IOException {
        byte[] src = new byte[65536];
        Arrays.fill(src, (byte) 0x5a);
        byte[] out = new byte[65535];
        int nativeLength = new ZlibCodec(true).compress(src, src.length, out);
        int javaLength = new ZlibCodec(false).compress(src, src.length, out);
        // One stream against sixteen flushed 4 KiB pieces (measured: 5x on such a disk).
        assertThat(nativeLength * 3).as("native %d, fallback %d", nativeLength, javaLength).isLessThan(javaLength);
    }

    @Test
    void threadsSharingTheCodecGetTheirOwnClustersBack() throws Exception {
        Random r = new Random(SEED);
        ZlibCodec codec = new ZlibCodec(true);
        List<byte[]> clusters = new ArrayList<>();
        List<byte[]> expected = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
            byte[] c = SeededClusters.cluster(r, 65536, r.nextBoolean() ? 1 : 4);
            byte[] out = new byte[65535];
            int n = codec.compress(c, c.length, out);
            clusters.add(c);
            expected.add(Arrays.copyOf(out, Math.max(n, 0)));
        }
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<byte[]>> got = new ArrayList<>();
            for (int round = 0; round < 4; round++) {
                for (byte[] c : clusters) {
                    got.add(pool.submit(() -> {
                        byte[] out = new byte[65535];
                        int n = codec.compress(c, c.length, out);
                        return Arrays.copyOf(out, Math.max(n, 0));
                    }));
                }
            }
            for (int i = 0; i < got.size(); i++) {
                assertThat(got.get(i).get()).as("seed %d, cluster %d", SEED, i % clusters.size())
                        .isEqualTo(expected.get(i % clusters.size()));
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
