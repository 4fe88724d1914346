package org.vmsnap.zstd;

import java.nio.charset.StandardCharsets;
import java.util.Random;

/** Cluster contents for the tests, each kind recognisable by its guest offset. */
enum ClusterData {
    /** All zero: QEMU leaves such clusters unallocated. */
    ZERO,
    /** Text lines naming the guest offset: compresses very well. */
    TEXT,
    /** Random bytes from a four-letter alphabet: compresses to about a quarter. */
    LOW_ENTROPY,
    /** Random bytes: does not compress, so QEMU stores the cluster uncompressed. */
    RANDOM,
    /** First half random, second half text: compresses to a bit over half. */
    HALF_RANDOM;

    void fill(byte[] cluster, long guestOffset, long seed) {
        Random random = new Random(seed ^ (guestOffset * 0x9E3779B97F4A7C15L) ^ ordinal());
        switch (this) {
            case ZERO -> java.util.Arrays.fill(cluster, (byte) 0);
            case TEXT -> text(cluster, 0, guestOffset);
            case LOW_ENTROPY -> {
                for (int i = 0; i < cluster.length; i++) {
                    cluster[i] = (byte) ('A' + random.nextInt(4));
                }
            }
            case RANDOM -> random.nextBytes(cluster);
            case HALF_RANDOM -> {
                byte[] half = new byte[cluster.length / 2];
                random.nextBytes(half);
                System.arraycopy(half, 0, cluster, 0, half.length);
                text(cluster, half.length, guestOffset);
            }
        }
    }

    static byte[] cluster(ClusterData kind, int clusterBytes, long guestOffset, long seed) {
        byte[] cluster = new byte[clusterBytes];
        kind.fill(cluster, guestOffset, seed);
        return cluster;
    }

    private static void text(byte[] cluster, int from, long guestOffset) {
        int at = from;
        for (int line = 0; at < cluster.length; line++) {
            byte[] bytes = ("guest offset 0x" + Long.toHexString(guestOffset) + " line " + line + "\n")
                    .getBytes(StandardCharsets.US_ASCII);
            int n = Math.min(bytes.length, cluster.length - at);
            System.arraycopy(bytes, 0, cluster, at, n);
            at += n;
        }
    }
}
