package org.vmsnap.qcow2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.vmsnap.qcow2.ScriptedDevice.DATA;
import static org.vmsnap.qcow2.ScriptedDevice.PRESENT;
import static org.vmsnap.qcow2.ScriptedDevice.ZERO;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.vmsnap.qcow2.ImageCompare.Outcome;
import org.vmsnap.qcow2.ImageCompare.Result;

class ImageCompareTest {

    private static final int MIB = 1 << 20;

    @Test
    void identicalDataIsIdentical() throws IOException {
        ScriptedDevice a = new ScriptedDevice(MIB).run(0, MIB, 0, PRESENT | DATA).fill(100, 5000, (byte) 7);
        ScriptedDevice b = new ScriptedDevice(MIB).run(0, MIB, 0, PRESENT | DATA).fill(100, 5000, (byte) 7);
        assertThat(ImageCompare.compare(a, b, false, Progress.NONE)).isEqualTo(new Result(Outcome.IDENTICAL, -1, false));
    }

    @Test
    void aMismatchIsReportedAtTheStartOfItsSector() throws IOException {
        ScriptedDevice a = new ScriptedDevice(MIB).run(0, MIB, 0, PRESENT | DATA);
        ScriptedDevice b = new ScriptedDevice(MIB).run(0, MIB, 0, PRESENT | DATA).fill(1000, 1001, (byte) 1);
        Result r = ImageCompare.compare(a, b, false, Progress.NONE);
        assertThat(r).isEqualTo(new Result(Outcome.CONTENT_MISMATCH, 512, false));
        assertThat(r.exitCode()).isEqualTo(1);
    }

    @Test
    void rangesThatAreZeroOnBothSidesAreNotRead() throws IOException {
        ScriptedDevice a = new ScriptedDevice(MIB).run(0, 4096, 0, PRESENT | DATA);
        ScriptedDevice b = new ScriptedDevice(MIB).run(0, 4096, 0, PRESENT | DATA).run(4096, 4096, 0, PRESENT | ZERO);
        assertThat(ImageCompare.compare(a, b, false, Progress.NONE).outcome()).isEqualTo(Outcome.IDENTICAL);
        assertThat(a.reads).containsExactly(0L);
        assertThat(b.reads).containsExactly(0L);
    }

    @Test
    void dataAgainstUnallocatedMustBeZeros() throws IOException {
        ScriptedDevice a = new ScriptedDevice(MIB).run(65536, 65536, 0, PRESENT | DATA);
        ScriptedDevice b = new ScriptedDevice(MIB);
        assertThat(ImageCompare.compare(a, b, false, Progress.NONE).outcome()).isEqualTo(Outcome.IDENTICAL);
        a.fill(65536 + 3000, 65536 + 3001, (byte) 9);
        assertThat(ImageCompare.compare(a, b, false, Progress.NONE))
                .isEqualTo(new Result(Outcome.CONTENT_MISMATCH, 65536 + 2560, false));
        assertThat(ImageCompare.compare(b, a, false, Progress.NONE))
                .isEqualTo(new Result(Outcome.CONTENT_MISMATCH, 65536 + 2560, false));
        assertThat(b.reads).isEmpty();
    }

    @Test
    void theExtraPartOfALargerDiskMustBeZeros() throws IOException {
        ScriptedDevice small = new ScriptedDevice(MIB);
        ScriptedDevice large = new ScriptedDevice(2 * MIB).run(MIB, MIB, 0, PRESENT | DATA);
        assertThat(ImageCompare.compare(small, large, false, Progress.NONE)).isEqualTo(new Result(Outcome.IDENTICAL, -1, true));
        large.fill(MIB + 1536 + 7, MIB + 1536 + 8, (byte) 1);
        assertThat(ImageCompare.compare(large, small, false, Progress.NONE))
                .isEqualTo(new Result(Outcome.CONTENT_MISMATCH, MIB + 1536, true));
    }

    @Test
    void aMismatchInTheCommonPartComesBeforeTheSizeWarning() throws IOException {
        ScriptedDevice small = new ScriptedDevice(MIB).run(0, MIB, 0, PRESENT | DATA).fill(0, 1, (byte) 1);
        ScriptedDevice large = new ScriptedDevice(2 * MIB);
        assertThat(ImageCompare.compare(small, large, false, Progress.NONE)).isEqualTo(new Result(Outcome.CONTENT_MISMATCH, 0, false));
    }

    @Test
    void strictModeRefusesDifferentSizesAndDifferentAllocation() throws IOException {
        ScriptedDevice a = new ScriptedDevice(MIB);
        ScriptedDevice b = new ScriptedDevice(2 * MIB);
        assertThat(ImageCompare.compare(a, b, true, Progress.NONE)).isEqualTo(new Result(Outcome.SIZE_MISMATCH, -1, false));

        ScriptedDevice c = new ScriptedDevice(MIB).run(65536, 65536, 0, PRESENT | ZERO);
        ScriptedDevice d = new ScriptedDevice(MIB).run(65536, 65536, 0, PRESENT | ZERO);
        assertThat(ImageCompare.compare(c, d, true, Progress.NONE).outcome()).isEqualTo(Outcome.IDENTICAL);
        ScriptedDevice e = new ScriptedDevice(MIB);
        // qemu compares the whole status word: a run reaching the end of the disk differs
        // from one that does not, so the first run already mismatches.
        assertThat(ImageCompare.compare(e, c, true, Progress.NONE)).isEqualTo(new Result(Outcome.BLOCK_STATUS_MISMATCH, 0, false));
    }

    @Test
    void progressClimbsToTheLargerSize() throws IOException {
        ScriptedDevice a = new ScriptedDevice(MIB).run(0, MIB, 0, PRESENT | DATA);
        ScriptedDevice b = new ScriptedDevice(3 * MIB);
        List<long[]> seen = new ArrayList<>();
        ImageCompare.compare(a, b, false, (done, total) -> seen.add(new long[] {done, total}));
        assertThat(seen.getFirst()).containsExactly(0, 3 * MIB);
        assertThat(seen.getLast()).containsExactly(3 * MIB, 3 * MIB);
        for (int i = 1; i < seen.size(); i++) {
            assertThat(seen.get(i)[0]).isGreaterThanOrEqualTo(seen.get(i - 1)[0]);
        }
    }
}
