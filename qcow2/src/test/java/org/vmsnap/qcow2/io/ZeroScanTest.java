package org.vmsnap.qcow2.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.Random;

import org.junit.jupiter.api.Test;

/** ZeroScan against a byte-by-byte model, on every kind of buffer the copy loops hand it. */
class ZeroScanTest {

    private static boolean model(ByteBuffer b, int from, int to) {
        for (int i = from; i < to; i++) {
            if (b.get(i) != 0) {
                return false;
            }
        }
        return true;
    }

    @Test
    void agreesWithTheModelOnRandomRangesAndOneNonzeroByte() {
        long seed = new Random().nextLong();
        Random r = new Random(seed);
        int size = 200 * 1024; // more than the 64 KiB of zeros it compares against
        for (ByteBuffer b : new ByteBuffer[] {ByteBuffer.allocateDirect(size), ByteBuffer.allocate(size)}) {
            for (int round = 0; round < 2000; round++) {
                b.clear();
                for (int i = 0; i < size; i += 8) {
                    b.putLong(i, 0);
                }
                int hot = r.nextInt(size);
                if (r.nextInt(4) > 0) {
                    b.put(hot, (byte) (1 + r.nextInt(255)));
                }
                int from = r.nextInt(size);
                int to = from + r.nextInt(size - from + 1);
                ByteBuffer view = switch (r.nextInt(3)) {
                    case 0 -> b;
                    case 1 -> b.asReadOnlyBuffer();
                    default -> b.duplicate().position(r.nextInt(size)); // absolute indexes ignore the position
                };
                assertThat(ZeroScan.isZero(view, from, to))
                        .as("seed %d round %d: byte %d, range [%d, %d), %s", seed, round, hot, from, to, view)
                        .isEqualTo(model(b, from, to));
                assertThat(ZeroScan.isZero(ZeroScan.whole(view), from, to))
                        .as("seed %d round %d, as a segment", seed, round).isEqualTo(model(b, from, to));
                assertThat(ZeroScan.isZero(view, ZeroScan.whole(view), from, to))
                        .as("seed %d round %d, with its segment", seed, round).isEqualTo(model(b, from, to));
            }
        }
    }

    @Test
    void theEdgesOfTheRangeCount() {
        ByteBuffer b = ByteBuffer.allocateDirect(70_000);
        b.put(69_999, (byte) 7);
        assertThat(ZeroScan.isZero(b, 0, 69_999)).isTrue();
        assertThat(ZeroScan.isZero(b, 0, 70_000)).isFalse();
        assertThat(ZeroScan.isZero(b, 69_999, 70_000)).isFalse();
        assertThat(ZeroScan.isZero(b, 5, 5)).isTrue();
        b.put(3, (byte) 1);
        assertThat(ZeroScan.isZero(b, 4, 69_999)).isTrue();
        assertThat(ZeroScan.isZero(b, 3, 4)).isFalse();
        assertThatThrownBy(() -> ZeroScan.isZero(b.duplicate().limit(100), 0, 101))
                .isInstanceOf(IndexOutOfBoundsException.class);
    }
}
