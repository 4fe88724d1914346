package org.vmsnap.qcow2.engine;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.vmsnap.qcow2.format.Header;
import org.vmsnap.qcow2.format.SnapshotEntry;
import org.vmsnap.qcow2.io.MemoryBlockStore;

/**
 * Fuzzes the snapshot table reader alone (the whole-image target reaches it only past a
 * valid L1 and refcount table): the fuzzer's bytes are the image. Only an
 * {@link IOException} may come out, and a table that reads has entries with distinct ids
 * whose sizes add up as the reader says. Seeds: {@code snapshot.qcow2} and
 * {@code snaps3.qcow2} of {@code Qcow2FuzzTest} (one and three snapshots, qemu-img made).
 */
class SnapshotTableFuzzTest {

    @FuzzTest(maxDuration = "2m")
    void snapshotTable(byte[] image) throws IOException {
        MemoryBlockStore store = new MemoryBlockStore(Path.of("fuzz.qcow2"));
        store.write(0, ByteBuffer.wrap(image));
        List<SnapshotEntry> entries;
        try {
            Header header = Qcow2Engine.readHeader(store);
            entries = SnapshotTableReader.read(store, header);
        } catch (IOException refused) {
            return;
        }
        Set<String> ids = new HashSet<>();
        for (SnapshotEntry e : entries) {
            if (!ids.add(e.id())) {
                throw new AssertionError("two snapshots with id " + e.id() + " were accepted");
            }
        }
        SnapshotTableReader.tableBytes(entries);
    }
}
