package org.vmsnap.qcow2.io;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;

import org.junit.jupiter.api.Test;

class MemoryBlockStoreTest extends BlockStoreContract {

    @Override
    BlockStore newStore() {
        return new MemoryBlockStore();
    }

    @Test
    void largeSparseStoreCostsOnlyItsData() throws IOException {
        MemoryBlockStore store = new MemoryBlockStore();
        long far = 300L * MIB + 12_345;
        byte[] data = pattern(100 * KIB, 13);
        write(store, far, data);
        // Only the chunks under the data exist; a dense store would hold 300 MiB here.
        assertThat(store.size()).isEqualTo(far + data.length);
        assertThat(read(store, far, data.length)).isEqualTo(data);
        assertThat(read(store, 100L * MIB, 4096)).containsOnly(0);
        assertThat(store.nextData(0)).isEqualTo(far & -(64L * KIB));
        assertThat(store.allocatedBytes()).as("memory reports its size, as the interface says")
                .isEqualTo(store.size());
    }

    @Test
    void copyOfKeepsContentsAndHoles() throws IOException {
        MemoryBlockStore source = new MemoryBlockStore();
        source.truncate(8 * MIB);
        write(source, 5 * MIB, pattern(70 * KIB, 14));
        write(source, 0, pattern(10, 15));

        MemoryBlockStore copy = MemoryBlockStore.copyOf(source);

        assertThat(copy.size()).isEqualTo(8 * MIB);
        assertThat(copy.toByteArray()).isEqualTo(source.toByteArray());
        assertThat(copy.nextHole(0)).isEqualTo(64 * KIB);
        assertThat(copy.nextData(64 * KIB)).isEqualTo(5 * MIB);
        write(source, 0, pattern(10, 16));
        assertThat(read(copy, 0, 10)).as("the copy is independent").isEqualTo(pattern(10, 15));
    }
}
