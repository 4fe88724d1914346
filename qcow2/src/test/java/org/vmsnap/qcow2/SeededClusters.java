package org.vmsnap.qcow2;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Random;

/** Seeded cluster contents of the kinds compression meets, for the zlib tests. */
public final class SeededClusters {
    /** Kinds 0..KINDS-1. */
    public static final int KINDS = 5;
    /** The kind that is all zeros (a hole in a source file). */
    public static final int ZEROS = 3;

    private static final byte[] TEXT = "The quick brown fox jumps over the lazy dog; qcow2 clusters compress with deflate. "
            .getBytes(StandardCharsets.US_ASCII);

    private SeededClusters() {
    }

    /**
     * 0 one repeated byte; 1 text with a typo now and then (matches of every length); 2 random
     * bytes (does not shrink: stored uncompressed); 3 zeros; 4 a random head, then zeros.
     */
    public static byte[] cluster(Random r, int size, int kind) {
        byte[] c = new byte[size];
        switch (kind) {
            case 0 -> Arrays.fill(c, (byte) (1 + r.nextInt(255)));
            case 1 -> {
                int shift = r.nextInt(TEXT.length);
                for (int i = 0; i < size; i++) {
                    c[i] = r.nextInt(64) == 0 ? (byte) r.nextInt(256) : TEXT[(i + shift) % TEXT.length];
                }
            }
            case 2 -> r.nextBytes(c);
            case ZEROS -> { }
            default -> {
                byte[] head = new byte[1 + r.nextInt(Math.max(1, size / 2))];
                r.nextBytes(head);
                System.arraycopy(head, 0, c, 0, head.length);
            }
        }
        return c;
    }
}
