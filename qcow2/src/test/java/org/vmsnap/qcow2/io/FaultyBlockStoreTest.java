package org.vmsnap.qcow2.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.vmsnap.qcow2.io.BlockStoreContract.pattern;
import static org.vmsnap.qcow2.io.BlockStoreContract.read;
import static org.vmsnap.qcow2.io.BlockStoreContract.write;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;

class FaultyBlockStoreTest {

    private static final int SECTOR = 512;

    private static byte[] sector(int value) {
        byte[] data = new byte[SECTOR];
        Arrays.fill(data, (byte) value);
        return data;
    }

    @Test
    void countsChangingOperationsAndNeverFailsWithNever() throws IOException {
        FaultyBlockStore store = new FaultyBlockStore(new MemoryBlockStore(), FaultyBlockStore.NEVER);
        write(store, 0, sector(1));
        store.truncate(4096);
        store.punchHole(0, 512);
        store.flush();
        read(store, 0, 512); // reads do not count
        assertThat(store.operations()).isEqualTo(4);
        assertThat(store.hasFailed()).isFalse();
    }

    @Test
    void theNthOperationFailsWithoutEffectAndEverythingAfterItToo() throws IOException {
        MemoryBlockStore inner = new MemoryBlockStore();
        FaultyBlockStore store = new FaultyBlockStore(inner, 3);
        write(store, 0, sector(1));
        store.flush();
        assertThatThrownBy(() -> write(store, 512, sector(2)))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("simulated power loss at operation 3");
        assertThat(store.hasFailed()).isTrue();
        assertThat(inner.size()).as("the failed write did not happen").isEqualTo(SECTOR);
        assertThatThrownBy(store::flush).isInstanceOf(IOException.class);
        assertThatThrownBy(() -> store.truncate(0)).isInstanceOf(IOException.class);
        assertThatThrownBy(() -> store.punchHole(0, 512)).isInstanceOf(IOException.class);
        assertThat(read(store, 0, SECTOR)).as("reads still work").isEqualTo(sector(1));
    }

    @Test
    void crashImageHoldsExactlyTheFlushedState() throws IOException {
        MemoryBlockStore inner = new MemoryBlockStore();
        write(inner, 0, sector(9)); // present before wrapping: counts as durable
        FaultyBlockStore store = new FaultyBlockStore(inner, 6);
        write(store, 512, sector(1));          // 1
        store.flush();                          // 2
        write(store, 1024, sector(2));         // 3, never flushed
        store.truncate(8 * SECTOR);            // 4, never flushed
        write(store, 0, sector(3));            // 5, never flushed
        assertThatThrownBy(store::flush).isInstanceOf(IOException.class); // 6: power lost

        MemoryBlockStore crashed = store.crashImage();

        byte[] expected = new byte[2 * SECTOR];
        System.arraycopy(sector(9), 0, expected, 0, SECTOR);
        System.arraycopy(sector(1), 0, expected, SECTOR, SECTOR);
        assertThat(crashed.toByteArray()).isEqualTo(expected);
        assertThat(store.crashImage().toByteArray()).as("repeatable").isEqualTo(expected);
        assertThat(inner.size()).as("the live store saw the unflushed changes").isEqualTo(8 * SECTOR);
    }

    @Test
    void seededCrashImageKeepsWholeUnflushedWritesRepeatably() throws IOException {
        int writes = 40;
        FaultyBlockStore store = new FaultyBlockStore(new MemoryBlockStore(), writes + 3, 1234);
        write(store, 0, sector(0xAA));
        store.flush();
        for (int i = 1; i <= writes; i++) {
            write(store, (long) i * SECTOR, pattern(SECTOR, i));
        }
        assertThatThrownBy(store::flush).isInstanceOf(IOException.class);

        MemoryBlockStore crashed = store.crashImage();
        assertThat(read(crashed, 0, SECTOR)).as("flushed data survives").isEqualTo(sector(0xAA));
        List<Integer> kept = new ArrayList<>();
        for (int i = 1; i <= writes; i++) {
            byte[] got = read(crashed, (long) i * SECTOR, SECTOR);
            if (Arrays.equals(got, pattern(SECTOR, i))) {
                kept.add(i);
            } else {
                assertThat(got).as("write %d is either whole or absent", i).containsOnly(0);
            }
        }
        assertThat(kept).as("a random subset: some kept, some lost").isNotEmpty().hasSizeLessThan(writes);
        assertThat(store.crashImage().toByteArray()).as("same seed, same image").isEqualTo(crashed.toByteArray());
    }

    @Test
    void flushedPunchAndTruncateReachTheCrashImage() throws IOException {
        MemoryBlockStore inner = new MemoryBlockStore();
        write(inner, 0, pattern(4 * SECTOR, 5));
        FaultyBlockStore store = new FaultyBlockStore(inner, 4);
        store.punchHole(0, SECTOR);
        store.truncate(3 * SECTOR);
        store.flush();
        assertThatThrownBy(() -> write(store, 0, sector(1))).isInstanceOf(IOException.class);

        byte[] expected = Arrays.copyOf(pattern(4 * SECTOR, 5), 3 * SECTOR);
        Arrays.fill(expected, 0, SECTOR, (byte) 0);
        assertThat(store.crashImage().toByteArray()).isEqualTo(expected);
    }
}
