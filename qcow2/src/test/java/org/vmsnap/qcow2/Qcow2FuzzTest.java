package org.vmsnap.qcow2;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import org.vmsnap.qcow2.engine.ImageChecker;
import org.vmsnap.qcow2.format.Header;
import org.vmsnap.qcow2.io.MemoryBlockStore;

/**
 * Coverage-guided fuzzing of everything that reads an image file: the fuzzer's bytes are the
 * whole image, opened from memory, read (every cluster within 1 MiB, every snapshot), walked
 * like qemu-img map, written and checked; {@link #header} takes the header cluster alone. The property is the engine's
 * contract for hostile files: only {@link IOException}s (its typed errors) come out; any
 * other exception, an {@link Error}, or a hang is a finding.
 *
 * <p><b>Regression mode</b> (every {@code mvn verify}): Jazzer runs the method once per file of
 * the committed seed corpus in
 * {@code src/test/resources/org/vmsnap/qcow2/Qcow2FuzzTestInputs/<method>/} (plus
 * an empty input), which takes well under a second. Those seeds are valid images QEMU made
 * (512-byte clusters, 64 KiB disks, a few KiB each):
 * <pre>
 * qemu-img create -f qcow2 -o cluster_size=512 empty.qcow2 64K
 * qemu-img create -f qcow2 -o cluster_size=512 data.qcow2 64K
 * qemu-io -f qcow2 -c "write -P 0x11 0 1k" -c "write -c -P 0x22 4k 512" -c "write -z 8k 1k" \
 *     -c "write -P 0x33 63k 512" data.qcow2
 * cp data.qcow2 snapshot.qcow2; qemu-img snapshot -c s1 snapshot.qcow2
 * qemu-io -f qcow2 -c "write -P 0x44 512 512" -c "discard 63k 512" snapshot.qcow2
 * qemu-img create -f qcow2 -o cluster_size=512,compat=0.10 v2.qcow2 64K
 * qemu-io -f qcow2 -c "write -P 0x55 1k 2k" v2.qcow2
 * qemu-img create -f qcow2 -o cluster_size=512,refcount_bits=1 refcount1.qcow2 64K
 * qemu-io -f qcow2 -c "write -P 0x66 0 3k" refcount1.qcow2
 * qemu-img create -f raw base.raw 64K
 * qemu-img create -f qcow2 -b base.raw -F raw -o cluster_size=512 overlay.qcow2
 * qemu-io -f qcow2 -c "write -P 0x77 2k 1k" overlay.qcow2
 * qemu-img create -f qcow2 -o cluster_size=16k,extended_l2=on extl2.qcow2 64K
 * qemu-io -f qcow2 -c "write -P 0x11 0 1k" -c "write -P 0x22 8k 1k" -c "write -z 12k 2k" extl2.qcow2
 * qemu-img create -f qcow2 -o cluster_size=512 bitmaps.qcow2 64K
 * qemu-io -f qcow2 -c "write -P 0x44 0 2k" bitmaps.qcow2
 * qemu-img bitmap --add bitmaps.qcow2 b0; qemu-img bitmap --add -g 1024 bitmaps.qcow2 b1
 * qemu-img create -f qcow2 -o cluster_size=512,compression_type=zstd zstd.qcow2 64K
 * qemu-io -f qcow2 -c "write -c -P 0x55 0 512" -c "write -c -P 0x56 4k 512" -c "write -P 0x57 8k 1k" zstd.qcow2
 * qemu-img create -f qcow2 -o cluster_size=512 snaps3.qcow2 64K
 * for i in 1 2 3; do qemu-io -f qcow2 -c "write -P 0x6$i $((i*4))k 1k" snaps3.qcow2; qemu-img snapshot -c s$i snaps3.qcow2; done
 * qemu-io -f qcow2 -c "discard 4k 1k" snaps3.qcow2
 * qemu-img create -f qcow2 -o cluster_size=512 base.qcow2 64K
 * qemu-img create -f qcow2 -o cluster_size=512,lazy_refcounts=on -b base.qcow2 -F qcow2 lazy-overlay.qcow2
 * qemu-io -f qcow2 -c "write -P 0x77 1k 1k" lazy-overlay.qcow2
 * qemu-img create -f qcow2 -o cluster_size=512,refcount_bits=64 refcount64.qcow2 64K
 * qemu-io -f qcow2 -c "write -P 0x78 0 1k" refcount64.qcow2
 * </pre>
 * The seeds of {@link #header} are the first 512 bytes of the same images (the header and its
 * extensions; at 512-byte clusters, all of them).
 *
 * The {@code crash-*} files there are inputs the fuzzer found (each an engine bug, named after
 * it); they stay as regression seeds once the engine is fixed.
 *
 * <p><b>Fuzzing mode</b>: set {@code JAZZER_FUZZ=1} and run only this test, with Jazzer's
 * comparison hooks on (the pom turns them off for the fast regression run), e.g.
 * <pre>
 * JAZZER_FUZZ=1 mvn -o -pl qcow2 -am test -Dtest=Qcow2FuzzTest -Dsurefire.failIfNoSpecifiedTests=false \
 *     -Djazzer.hooks=true -Djazzer.max_duration=30m
 * </pre>
 * Jazzer then mutates the seeds for {@link FuzzTest#maxDuration()} (or
 * {@code jazzer.max_duration}), keeps new coverage in {@code qcow2/.cifuzz-corpus/} (do not
 * commit it) and stops at the first finding, writing the input into the inputs folder above.
 * On JDK 25 with Jazzer 0.30.0 this found both the NUL backing name and the negative refcount
 * block offset within a minute.
 */
class Qcow2FuzzTest {

    /** Guest bytes read at most: a fuzzed size field may claim exabytes. */
    private static final long MAX_READ_BYTES = 1L << 20;

    @FuzzTest(maxDuration = "10m")
    void openReadWriteCheck(byte[] image) {
        try (Qcow2Image device = Qcow2Image.openStore(store(image), true, null)) {
            readSome(device);
            walkMap(device);
            device.info();
            for (SnapshotInfo snapshot : device.snapshots()) {
                try (BlockDevice view = device.readSnapshot(snapshot.id())) {
                    readSome(view);
                } catch (IOException refused) {
                    // one broken snapshot: the others may still read
                }
            }
        } catch (IOException refused) {
            // The engine's answer to a broken image.
        }
        try (Qcow2Image device = Qcow2Image.openStore(store(image), false, null)) {
            long span = Math.min(device.size(), MAX_READ_BYTES);
            if (span > 0) {
                device.write(span / 2, ByteBuffer.wrap(new byte[] {1, 2, 3, 4, 5, 6, 7, 8}));
                device.writeZeroes(0, Math.min(span, 4096));
                device.flush();
            }
        } catch (IOException refused) {
            // Refusing to write to a broken image is fine.
        }
        try {
            ImageChecker.check(store(image), RepairMode.NONE);
        } catch (IOException refused) {
            // A check that cannot run says so with a typed error.
        }
    }

    /**
     * The header cluster alone: {@link Header#decode} refuses with an {@link ImageException} or
     * gives a header whose encoding decodes to the same encoding (extensions included).
     */
    @FuzzTest(maxDuration = "2m")
    void header(byte[] bytes) throws ImageException {
        Header header;
        try {
            header = Header.decode(Path.of("fuzz.qcow2"), ByteBuffer.wrap(bytes), bytes.length);
        } catch (ImageException refused) {
            return;
        }
        header.geometry();
        header.compat();
        header.compressionTypeName();
        header.backingFormat();
        byte[] encoded = header.encode();
        byte[] again = Header.decode(Path.of("fuzz.qcow2"), ByteBuffer.wrap(encoded), Long.MAX_VALUE / 2).encode();
        if (!Arrays.equals(encoded, again)) {
            throw new AssertionError("the header changes when encoded again");
        }
    }

    private static MemoryBlockStore store(byte[] image) throws IOException {
        MemoryBlockStore store = new MemoryBlockStore(Path.of("fuzz.qcow2"));
        store.write(0, ByteBuffer.wrap(image));
        return store;
    }

    /** qemu-img map's walk: every run of the guest disk (within the read bound), each a positive length. */
    private static void walkMap(Qcow2Image device) throws IOException {
        long end = Math.min(device.size(), MAX_READ_BYTES);
        for (long off = 0; off < end; ) {
            BlockStatus run = device.blockStatus(off, end - off);
            off += run.lengthBytes();
        }
    }

    private static void readSome(BlockDevice device) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(64 * 1024);
        long end = Math.min(device.size(), MAX_READ_BYTES);
        for (long off = 0; off < end; off += buffer.capacity()) {
            buffer.clear().limit((int) Math.min(buffer.capacity(), end - off));
            device.read(off, buffer);
        }
    }
}
