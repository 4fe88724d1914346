package org.vmsnap.zstd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import com.github.luben.zstd.Zstd;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.ServiceLoader;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.vmsnap.qcow2.CompressionCodec;

class ZstdClusterCodecTest {

    private static final int SECTOR_BYTES = 512;
    private static final long SEED = 20240611L;

    private final ZstdClusterCodec codec = new ZstdClusterCodec();

    @Test
    void isFoundByServiceLoaderAsZstdType1() {
        List<CompressionCodec> found = ServiceLoader.load(CompressionCodec.class).stream()
                .map(ServiceLoader.Provider::get).toList();

        assertThat(found).hasSize(1);
        assertThat(found.getFirst()).isInstanceOf(ZstdClusterCodec.class);
        assertThat(found.getFirst().compressionType()).isEqualTo(1);
        assertThat(found.getFirst().name()).isEqualTo("zstd");
    }

    /** 512 B, 4 KiB, 64 KiB and 2 MiB clusters: the smallest, a common, the default, the largest. */
    @ParameterizedTest
    @ValueSource(ints = {512, 4096, 65536, 2 * 1024 * 1024})
    void compressibleClustersRoundTripWithTheNextClusterFollowingInTheSameSector(int clusterBytes)
            throws IOException {
        for (ClusterData kind : List.of(ClusterData.ZERO, ClusterData.TEXT, ClusterData.LOW_ENTROPY,
                ClusterData.HALF_RANDOM)) {
            byte[] cluster = ClusterData.cluster(kind, clusterBytes, 0x10000, SEED);
            byte[] next = ClusterData.cluster(ClusterData.TEXT, clusterBytes, 0x20000, SEED);
            byte[] frame = compressLikeQemu(cluster);
            byte[] nextFrame = compressLikeQemu(next);
            if (frame == null || nextFrame == null) {
                // 512-byte clusters of half random data may not fit in 511 bytes: that is the
                // "store uncompressed" case, checked on its own below.
                assertThat(kind).isEqualTo(ClusterData.HALF_RANDOM);
                continue;
            }

            // As QEMU packs them: this frame, then the next cluster's frame, up to the sector end.
            byte[] stored = concat(frame, nextFrame);
            int storedLength = Math.min(stored.length, roundUpToSector(frame.length));
            byte[] out = new byte[clusterBytes];
            codec.decompress(stored, storedLength, out);

            assertThat(out).as("%s cluster of %d bytes", kind, clusterBytes).isEqualTo(cluster);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {512, 4096, 65536, 2 * 1024 * 1024})
    void toleratesRandomTrailingBytesUpToTheSectorBoundary(int clusterBytes) throws IOException {
        byte[] cluster = ClusterData.cluster(ClusterData.LOW_ENTROPY, clusterBytes, 0, SEED);
        byte[] frame = compressLikeQemu(cluster);
        assertThat(frame).isNotNull();
        int padded = roundUpToSector(frame.length) + SECTOR_BYTES;
        byte[] stored = Arrays.copyOf(frame, padded);
        byte[] garbage = new byte[padded - frame.length];
        new Random(SEED).nextBytes(garbage);
        System.arraycopy(garbage, 0, stored, frame.length, garbage.length);

        byte[] out = new byte[clusterBytes];
        codec.decompress(stored, stored.length, out);

        assertThat(out).isEqualTo(cluster);
    }

    @Test
    void writesOneFrameWithTheClusterSizeInItsHeaderLikeQemu() throws IOException {
        byte[] cluster = ClusterData.cluster(ClusterData.TEXT, 65536, 0, SEED);
        byte[] frame = compressLikeQemu(cluster);

        assertThat(frame).isNotNull();
        assertThat(Zstd.getFrameContentSize(frame)).isEqualTo(65536);
        // Frame header descriptor: content-size field of 2 bytes, single segment, no checksum,
        // no dictionary id: what QEMU 7.2 writes for 64 KiB clusters (0x60, seen in its images).
        assertThat(frame[4] & 0xff).isEqualTo(0x60);
        assertThat(Arrays.copyOf(frame, 4)).containsExactly(0x28, 0xb5, 0x2f, 0xfd);
    }

    @ParameterizedTest
    @ValueSource(ints = {512, 4096, 65536, 2 * 1024 * 1024})
    void incompressibleClusterDoesNotFitInClusterSizeMinusOne(int clusterBytes) throws IOException {
        byte[] cluster = ClusterData.cluster(ClusterData.RANDOM, clusterBytes, 0, SEED);

        assertThat(codec.compress(cluster, clusterBytes, new byte[clusterBytes - 1])).isEqualTo(-1);

        // Given room, the same data makes a (larger) frame that still decodes.
        byte[] roomy = new byte[clusterBytes + 1024];
        int length = codec.compress(cluster, clusterBytes, roomy);
        assertThat(length).isGreaterThan(clusterBytes);
        byte[] out = new byte[clusterBytes];
        codec.decompress(roomy, length, out);
        assertThat(out).isEqualTo(cluster);
    }

    @Test
    void aClusterMadeOfSeveralFramesDecodesAsQemuAccepts() throws IOException {
        byte[] cluster = ClusterData.cluster(ClusterData.TEXT, 65536, 0x40000, SEED);
        byte[] first = compressExact(Arrays.copyOfRange(cluster, 0, 20000));
        byte[] second = compressExact(Arrays.copyOfRange(cluster, 20000, 65536));
        byte[] stored = concat(first, second);

        byte[] out = new byte[65536];
        codec.decompress(stored, stored.length, out);

        assertThat(out).isEqualTo(cluster);
    }

    @Test
    void aCompressorLeftWithAnUnfinishedFrameIsResetBeforeReuse() throws IOException {
        byte[] random = ClusterData.cluster(ClusterData.RANDOM, 65536, 0, SEED);
        byte[] text = ClusterData.cluster(ClusterData.TEXT, 65536, 0, SEED);
        for (int i = 0; i < 3; i++) {
            assertThat(codec.compress(random, random.length, new byte[65535])).isEqualTo(-1);
            byte[] frame = compressLikeQemu(text);
            byte[] out = new byte[65536];
            codec.decompress(frame, frame.length, out);
            assertThat(out).isEqualTo(text);
        }
    }

    @Test
    void inputThatEndsBeforeTheClusterIsFullIsCorrupt() throws IOException {
        byte[] frame = compressLikeQemu(ClusterData.cluster(ClusterData.TEXT, 65536, 0, SEED));

        assertThatThrownBy(() -> codec.decompress(frame, frame.length - 1, new byte[65536]))
                .isInstanceOf(IOException.class);
        assertThatThrownBy(() -> codec.decompress(frame, 0, new byte[65536]))
                .isInstanceOf(IOException.class).hasMessageContaining("ends after 0 of 0 bytes");
    }

    @Test
    void aFrameShorterThanTheClusterIsCorrupt() throws IOException {
        byte[] frame = compressExact(ClusterData.cluster(ClusterData.TEXT, 4096, 0, SEED));

        assertThatThrownBy(() -> codec.decompress(frame, frame.length, new byte[65536]))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("only 4096 of 65536 cluster bytes decoded");
    }

    @Test
    void aFrameLongerThanTheClusterIsCorrupt() throws IOException {
        byte[] frame = compressExact(ClusterData.cluster(ClusterData.TEXT, 2 * 65536, 0, SEED));

        assertThatThrownBy(() -> codec.decompress(frame, frame.length, new byte[65536]))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("decodes to more than the 65536-byte cluster");
    }

    @Test
    void garbageIsAnIOException() {
        Random random = new Random(SEED);
        for (int i = 0; i < 200; i++) {
            byte[] garbage = new byte[1 + random.nextInt(4096)];
            random.nextBytes(garbage);
            if (i % 2 == 0) {
                // Valid magic, random header and blocks: gets past the first check.
                garbage[0] = 0x28;
                garbage[1] = (byte) 0xb5;
                garbage[2] = 0x2f;
                garbage[3] = (byte) 0xfd;
            }
            byte[] input = garbage;
            assertThatThrownBy(() -> codec.decompress(input, input.length, new byte[65536]))
                    .as("garbage #%d, seed %d", i, SEED).isInstanceOf(IOException.class);
        }
    }

    @Test
    void aHeaderDeclaringAHugeWindowIsRefusedWithoutExhaustingMemory() {
        // Magic, descriptor 0x00 (no content size, window descriptor follows), window
        // descriptor 0xF8: exponent 31, a 2^41-byte window, beyond any decoder limit.
        byte[] header = {0x28, (byte) 0xb5, 0x2f, (byte) 0xfd, 0x00, (byte) 0xf8, 0, 0, 0, 0};

        assertThatThrownBy(() -> codec.decompress(header, header.length, new byte[2 * 1024 * 1024]))
                .isInstanceOf(IOException.class).hasMessageContaining("corrupt zstd cluster data");
    }

    /** Seeded mutations of valid frames: only IOException or success, never anything else. */
    @Test
    void mutatedFramesNeverThrowUncheckedExceptions() throws IOException {
        Random random = new Random(SEED);
        byte[] cluster = ClusterData.cluster(ClusterData.LOW_ENTROPY, 65536, 0, SEED);
        byte[] frame = compressLikeQemu(cluster);
        int failures = 0;
        for (int i = 0; i < 500; i++) {
            byte[] mutated = frame.clone();
            int flips = 1 + random.nextInt(4);
            for (int f = 0; f < flips; f++) {
                mutated[random.nextInt(mutated.length)] ^= (byte) (1 << random.nextInt(8));
            }
            int length = random.nextInt(4) == 0 ? random.nextInt(mutated.length + 1) : mutated.length;
            try {
                codec.decompress(mutated, length, new byte[65536]);
            } catch (IOException expected) {
                failures++;
            } catch (RuntimeException | Error e) {
                fail("mutation #" + i + " (seed " + SEED + ") threw " + e, e);
            }
        }
        assertThat(failures).as("most mutations must be detected").isGreaterThan(250);
    }

    @Test
    void isSafeToShareBetweenThreads() throws Exception {
        int threads = 4;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<Void>> results = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                long offset = t * 0x10000L;
                Callable<Void> task = () -> {
                    for (int i = 0; i < 20; i++) {
                        byte[] cluster = ClusterData.cluster(ClusterData.TEXT, 65536, offset + i, SEED);
                        byte[] frame = compressLikeQemu(cluster);
                        byte[] out = new byte[65536];
                        codec.decompress(frame, frame.length, out);
                        assertThat(out).isEqualTo(cluster);
                    }
                    return null;
                };
                results.add(pool.submit(task));
            }
            for (Future<Void> result : results) {
                result.get();
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void misuseOfLengthsIsAnIndexOutOfBoundsException() {
        assertThatThrownBy(() -> codec.compress(new byte[10], 11, new byte[100]))
                .isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> codec.decompress(new byte[10], -1, new byte[100]))
                .isInstanceOf(IndexOutOfBoundsException.class);
    }

    /** Compresses as QEMU does: into cluster_size - 1 bytes; null when it does not fit. */
    private byte[] compressLikeQemu(byte[] cluster) throws IOException {
        byte[] dst = new byte[cluster.length - 1];
        int length = codec.compress(cluster, cluster.length, dst);
        return length < 0 ? null : Arrays.copyOf(dst, length);
    }

    private byte[] compressExact(byte[] data) throws IOException {
        byte[] dst = new byte[data.length + 1024];
        int length = codec.compress(data, data.length, dst);
        assertThat(length).isPositive();
        return Arrays.copyOf(dst, length);
    }

    private static int roundUpToSector(int bytes) {
        return Math.ceilDiv(bytes, SECTOR_BYTES) * SECTOR_BYTES;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] joined = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, joined, a.length, b.length);
        return joined;
    }
}
