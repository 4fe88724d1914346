package org.vmsnap.qcow2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.vmsnap.qcow2.ScriptedDevice.DATA;
import static org.vmsnap.qcow2.ScriptedDevice.PRESENT;
import static org.vmsnap.qcow2.ScriptedDevice.ZERO;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.qcow2.ImageCopy.CopyOptions;
import org.vmsnap.qcow2.ScriptedDevice.Op;

class ImageCopyTest {

    private static final int MIB = 1 << 20;

    @Test
    void copiesDataAndLeavesZerosOutOfANewImage() throws IOException {
        ScriptedDevice src = new ScriptedDevice(MIB)
                .run(0, 65536, 0, PRESENT | DATA)
                .run(65536, 65536, 0, PRESENT | ZERO)
                .fill(0, 10, (byte) 1)          // data in the first 4 KiB block
                .fill(8192, 8200, (byte) 2);    // and in the third; the second is zero
        ScriptedDevice dst = new ScriptedDevice(MIB);
        ImageCopy.copy(src, dst, CopyOptions.wholeChainToNewImage(), Progress.NONE);
        assertThat(dst.bytes()).isEqualTo(src.bytes());
        assertThat(dst.ops).containsExactly(new Op("write", 0, 4096), new Op("write", 8192, 4096));
    }

    @Test
    void zerosAreWrittenWhenTheTargetIsNotZeroed() throws IOException {
        ScriptedDevice src = new ScriptedDevice(65536).run(0, 8192, 0, PRESENT | DATA).fill(4096, 4097, (byte) 3);
        ScriptedDevice dst = new ScriptedDevice(65536).fill(0, 65536, (byte) 0x55);
        ImageCopy.copy(src, dst, CopyOptions.wholeChainToNewImage().withTargetNotZeroed(), Progress.NONE);
        assertThat(dst.bytes()).isEqualTo(src.bytes());
        assertThat(dst.ops).containsExactly(new Op("zero", 0, 4096), new Op("write", 4096, 4096), new Op("zero", 8192, 57344));
    }

    @Test
    void topLayerOnlySkipsTheBackingChainAndWritesTopZeros() throws IOException {
        ScriptedDevice src = new ScriptedDevice(4 * 65536)
                .run(0, 65536, 1, PRESENT | DATA)             // from the backing file
                .run(65536, 65536, 0, PRESENT | DATA)         // the top's own data
                .run(131072, 65536, 0, PRESENT | ZERO)        // the top's zero cluster
                .run(196608, 65536, 1, ZERO)                  // unallocated everywhere
                .fill(0, 65536 * 2, (byte) 4);
        ScriptedDevice dst = new ScriptedDevice(4 * 65536);
        ImageCopy.copy(src, dst, CopyOptions.topLayerOntoBackedImage(), Progress.NONE);
        assertThat(dst.ops).containsExactly(new Op("write", 65536, 65536), new Op("zero", 131072, 65536));
    }

    @Test
    void unalignedRunsAreScannedInBlocksAlignedToGuestOffsets() throws IOException {
        ScriptedDevice src = new ScriptedDevice(65536).run(1000, 9000, 0, PRESENT | DATA).fill(5000, 5001, (byte) 1);
        ScriptedDevice dst = new ScriptedDevice(65536);
        ImageCopy.copy(src, dst, CopyOptions.wholeChainToNewImage(), Progress.NONE);
        assertThat(dst.ops).containsExactly(new Op("write", 4096, 4096));
        assertThat(dst.bytes()).isEqualTo(src.bytes());
    }

    /**
     * Into a new raw file (the zeroed target's path, blocks scanned in one buffer): a block whose
     * first bytes are zeros but not the rest is data, an all-zero block stays a hole.
     */
    @Test
    void aBlockThatStartsWithZerosIsStillDataInANewRawFile(@TempDir Path dir) throws IOException {
        ScriptedDevice src = new ScriptedDevice(65536).run(0, 65536, 0, PRESENT | DATA)
                .fill(4095, 4096, (byte) 9)      // block 0: zeros up to its last byte
                .fill(8200, 8201, (byte) 8)      // block 2: zeros in its first word only
                .fill(12288, 16384, (byte) 7);   // block 3: data from its first byte; block 1 and 4.. zero
        Path out = dir.resolve("out.raw");
        RawImage.create(out, 65536);
        try (RawImage dst = RawImage.open(out, OpenOptions.readWrite().withFormat("raw"))) {
            ImageCopy.copy(src, dst, CopyOptions.wholeChainToNewImage(), Progress.NONE);
            assertThat(dst.blockStatus(4096, 4096).zero()).as("block 1 is a hole").isTrue();
            assertThat(dst.blockStatus(8192, 8192).data()).as("blocks 2 and 3").isTrue();
        }
        assertThat(Files.readAllBytes(out)).isEqualTo(src.bytes());
    }

    @Test
    void aSmallerTargetIsRefused() {
        assertThatThrownBy(() -> ImageCopy.copy(new ScriptedDevice(8192), new ScriptedDevice(4096),
                CopyOptions.wholeChainToNewImage(), Progress.NONE))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("smaller");
    }

    @Test
    void progressEndsAtTheSourceSize() throws IOException {
        ScriptedDevice src = new ScriptedDevice(5 * MIB).run(0, 5 * MIB, 0, PRESENT | DATA);
        long[] last = new long[2];
        ImageCopy.copy(src, new ScriptedDevice(5 * MIB), CopyOptions.wholeChainToNewImage(),
                (done, total) -> { last[0] = done; last[1] = total; });
        assertThat(last).containsExactly(5 * MIB, 5 * MIB);
    }
}
