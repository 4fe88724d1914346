package org.vmsnap.manager.plan;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.lang.reflect.RecordComponent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.manager.ManagerException;

/**
 * Every kind of step survives the journal field by field, with the values that are hard to write
 * down: spaces, newlines, commas, percent signs, empty texts, nulls, empty lists, big numbers.
 */
class JournalTest {
    @TempDir
    Path dir;

    private static Object sample(Class<?> type, int i) {
        if (type == String.class) {
            return switch (i % 4) {
                case 0 -> "a b\nc,d%e|f~";
                case 1 -> "";
                case 2 -> null;
                default -> " spaced ";
            };
        }
        if (type == Path.class) {
            return i % 3 == 2 ? null : Path.of("/tmp/a dir,x/%file~" + i);
        }
        if (type == boolean.class) {
            return i % 2 == 0;
        }
        if (type == int.class) {
            return -7 + i;
        }
        if (type == long.class) {
            return Long.MAX_VALUE - i;
        }
        if (type == List.class) {
            return i % 2 == 0 ? List.of() : List.of("x|y,z", "", "a b%");
        }
        throw new AssertionError(type);
    }

    @Test
    void everyStepRoundTrips() throws Exception {
        List<Step> steps = new ArrayList<>();
        for (Class<?> k : Step.class.getPermittedSubclasses()) {
            Journal.checkEncodable(k);
            for (int variant = 0; variant < 4; variant++) {
                RecordComponent[] comps = k.getRecordComponents();
                Object[] args = new Object[comps.length];
                Class<?>[] types = new Class<?>[comps.length];
                for (int i = 0; i < comps.length; i++) {
                    types[i] = comps[i].getType();
                    args[i] = sample(types[i], i + variant);
                }
                steps.add((Step) k.getDeclaredConstructor(types).newInstance(args));
            }
        }
        Journal j = new Journal(dir.resolve("journal"));
        j.begin("a plan\nwith lines", steps);
        j.markDone(3);
        Journal.Entry e = j.read();
        assertThat(e.what()).isEqualTo("a plan\nwith lines");
        assertThat(e.steps()).isEqualTo(steps);
        assertThat(e.done()).isEqualTo(3);
    }

    @Test
    void aRevertJournaledByAnOlderVmsnapStillAsksTheGuestWhetherItIsFrozen() throws IOException {
        // Before checkpoints recorded --quiesce, SetRunState had two fields.
        Path file = dir.resolve("journal");
        Files.writeString(file, "vmsnap-journal 1\nplan revert\nstep SetRunState 0 true\ndone 0\n");
        Step.SetRunState s = (Step.SetRunState) new Journal(file).read().steps().getFirst();
        assertThat(s).isEqualTo(new Step.SetRunState(0, true, null));
        assertThat(s.mayBeFrozen()).isTrue();
        assertThat(new Step.SetRunState(0, true, "yes").mayBeFrozen()).isTrue();
        assertThat(new Step.SetRunState(0, true, "no").mayBeFrozen()).isFalse();
    }

    @Test
    void aDamagedStepNamesTheFileAndTheLine() throws IOException {
        Path file = dir.resolve("journal");
        Files.writeString(file, "vmsnap-journal 1\nplan x\nstep Freeze notanumber %2Fa 5\n");
        assertThatThrownBy(() -> new Journal(file).read()).isInstanceOf(ManagerException.class)
                .hasMessage(file + ": line 3: unknown or damaged step 'Freeze'");
    }
}
