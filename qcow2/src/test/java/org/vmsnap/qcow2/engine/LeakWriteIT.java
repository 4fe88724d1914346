package org.vmsnap.qcow2.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.vmsnap.qcow2.CorruptImageException;
import org.vmsnap.qcow2.OpenOptions;
import org.vmsnap.qcow2.Qcow2Image;

/**
 * A read-write open takes an image whose only faults are leaks (a refcount too high, a cluster
 * nobody uses, a COPIED flag that only such a leak or a missing flag makes wrong), as QEMU does,
 * and refuses real corruption (a refcount too low, a cluster another user shares marked
 * COPIED). After vmsnap writes the leaky ones, qemu-io reads the data back and qemu-img check
 * finds no new refcount error.
 */
class LeakWriteIT {

    @TempDir
    Path dir;

    /** Writes guest clusters 0 (in use), 1 (in use) and 3 (new) with their own patterns. */
    private static void writeThree(Path image) throws IOException {
        try (Qcow2Image img = Qcow2Image.open(image, OpenOptions.readWrite())) {
            int cs = 1 << 10;
            for (int guest : new int[] {0, 1, 3}) {
                byte[] data = new byte[cs];
                Arrays.fill(data, (byte) (0x40 + guest));
                img.write((long) guest * cs, ByteBuffer.wrap(data));
            }
        }
    }

    /** The refcount-too-low findings of qemu-img check ("ERROR cluster N refcount=R reference=F"). */
    private static List<String> refcountErrors(Path image) throws Exception {
        return Qemu.img("check", "-f", "qcow2", image.toString()).findings().stream()
                .filter(l -> l.startsWith("ERROR cluster")).toList();
    }

    @ParameterizedTest
    @EnumSource(value = HandMadeFault.class, names = {"RAISED_REFCOUNT", "UNREFERENCED_CLUSTER", "CLEARED_COPIED",
            "COPIED_ON_SHARED_L1_ENTRY", "DIRTY_WITH_LEAK"})
    void leaksAreWrittenAsQemuWritesThem(HandMadeFault fault) throws Exception {
        Path theirs = fault.image().writeTo(dir, "qemu.qcow2");
        assertThat(refcountErrors(theirs)).as("qemu-img: only leaks").isEmpty();
        Qemu.io(theirs, "write -P 0x41 1k 1k");   // QEMU writes such an image

        Path image = fault.image().writeTo(dir, "image.qcow2");
        writeThree(image);
        Qemu.io(image, "read -P 0x40 0 1k", "read -P 0x41 1k 1k", "read -P 0x43 3k 1k");
        assertThat(refcountErrors(image)).as("after vmsnap wrote it").isEmpty();
    }

    @ParameterizedTest
    @EnumSource(value = HandMadeFault.class, names = {"LOWERED_SHARED_REFCOUNT", "ZERO_REFCOUNT"})
    void refcountsTooLowAreRefused(HandMadeFault fault) throws IOException {
        Path image = fault.image().writeTo(dir, "image.qcow2");
        assertThatThrownBy(() -> writeThree(image)).isInstanceOf(CorruptImageException.class)
                .hasMessageContaining("not opened for writing");
    }

    @Test
    void aSharedClusterMarkedCopiedIsRefused() throws IOException {
        // A write in place would change the snapshot's data too.
        for (boolean l2Table : List.of(true, false)) {
            TinyImage i = HandMadeFault.shared();
            if (l2Table) {
                i.l1(0, i.at(TinyImage.L2) | TinyImage.COPIED);
            } else {
                i.l2(0, i.at(5) | TinyImage.COPIED);
            }
            Path image = i.writeTo(dir, "shared-" + l2Table + ".qcow2");
            assertThatThrownBy(() -> writeThree(image)).as("COPIED on the %s", l2Table ? "L2 table" : "data cluster")
                    .isInstanceOf(CorruptImageException.class).hasMessageContaining("OFLAG_COPIED");
        }
    }
}
