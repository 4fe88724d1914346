package org.vmsnap.manager.plan;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How PlanRunner reports a journal it cannot write after a step ran. */
class PlanRunnerTest {
    @TempDir
    Path tmp;

    /** Runs PutFile steps by writing their file; the step given loses the journal as it runs. */
    private static StepExecutor losingJournalAt(Path journal, int lose, List<String> log) {
        return new StepExecutor() {
            int n;

            @Override
            public void run(Step step) throws IOException {
                n++;
                log.add("run " + step.describe());
                Step.PutFile p = (Step.PutFile) step;
                Files.writeString(p.file(), p.content());
                if (n == lose) {
                    Files.delete(journal); // the next journal write fails (an I/O error of the journal's disk)
                }
            }

            @Override
            public void undo(Step step) {
                log.add("undo " + step.describe());
            }
        };
    }

    private Plan twoSteps() {
        return new Plan("test plan").add(new Step.PutFile(tmp.resolve("a"), "A", null))
                .add(new Step.PutFile(tmp.resolve("b"), "B", null));
    }

    @Test
    void aJournalWriteFailingAfterTheLastStepIsThatIoError() {
        Path journal = tmp.resolve("journal");
        List<String> log = new ArrayList<>();
        PlanRunner runner = new PlanRunner(new Journal(journal), losingJournalAt(journal, 2, log));
        assertThatThrownBy(() -> runner.run(twoSteps())).isInstanceOf(PlanRunner.JournalWriteException.class)
                .hasCauseInstanceOf(NoSuchFileException.class)
                .hasMessageContaining("test plan: ").hasMessageContaining(tmp.resolve("b").toString())
                .hasMessageContaining("recording it in the journal failed");
        assertThat(log).as("nothing undone without a journal").noneMatch(l -> l.startsWith("undo"));
    }

    @Test
    void aJournalWriteFailingInTheMiddleStopsThePlanThere() {
        Path journal = tmp.resolve("journal");
        List<String> log = new ArrayList<>();
        PlanRunner runner = new PlanRunner(new Journal(journal), losingJournalAt(journal, 1, log));
        assertThatThrownBy(() -> runner.run(twoSteps())).isInstanceOf(PlanRunner.JournalWriteException.class)
                .hasMessageContaining(tmp.resolve("a").toString());
        assertThat(log).hasSize(1);
        assertThat(tmp.resolve("b")).doesNotExist();
    }

    /**
     * The --live checkpoint's paused steps: no journal mark while they run (no sync in the guest's
     * pause), and a crash there undoes every step that may have run, the unmarked ones included.
     */
    @Test
    void stepsMarkedWithTheNextAreUndoneTogetherAfterACrash() throws IOException {
        Path journal = tmp.resolve("journal");
        Path f = tmp.resolve("mem");
        Path partial = tmp.resolve(".partial");
        Plan plan = new Plan("live checkpoint")
                .add(new Step.SaveToSwitchover(1, tmp, f, partial, "<domain/>"))
                .add(new Step.SnapshotAtSwitchover(1, List.of("a")))
                .add(new Step.FinishSwitchover(1, f, partial))
                .add(new Step.ResumeAfterSave(1, true))
                .add(new Step.PutFile(tmp.resolve("meta"), "M", null));
        List<String> journalAt = new ArrayList<>();
        List<String> log = new ArrayList<>();
        StepExecutor ex = new StepExecutor() {
            @Override
            public void run(Step step) throws IOException {
                journalAt.add(Files.readString(journal));
                if (step instanceof Step.FinishSwitchover) {
                    Files.copy(journal, tmp.resolve("crashed")); // what a kill in this step leaves
                }
                log.add("run " + step.getClass().getSimpleName());
            }

            @Override
            public void undo(Step step) {
                log.add("undo " + step.getClass().getSimpleName());
            }
        };
        new PlanRunner(new Journal(journal), ex).run(plan);
        assertThat(journalAt.get(1)).as("no mark after the first paused step").doesNotContain("done");
        assertThat(journalAt.get(2)).as("none after the second").doesNotContain("done");
        assertThat(journalAt.get(3)).as("one for the three").contains("done 3").doesNotContain("done 1\n");
        assertThat(journal).doesNotExist();

        log.clear();
        Files.move(tmp.resolve("crashed"), journal);
        assertThat(new PlanRunner(new Journal(journal), ex).recover()).startsWith("undid");
        assertThat(log).containsExactly("undo FinishSwitchover", "undo SnapshotAtSwitchover", "undo SaveToSwitchover");
    }

    @Test
    void onlyAReversibleStepBeforeAReversibleOneIsMarkedWithTheNext() {
        Path f = tmp.resolve("mem");
        Plan plan = new Plan("bad").add(new Step.SaveToSwitchover(1, tmp, f, tmp.resolve(".p"), "<domain/>"))
                .add(new Step.ResumeAfterSave(1, true));
        assertThatThrownBy(() -> new PlanRunner(new Journal(tmp.resolve("journal")), losingJournalAt(tmp, 0,
                new ArrayList<>())).run(plan)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("marked done with the next");
        assertThat(tmp.resolve("journal")).as("refused before the journal").doesNotExist();
    }
}
