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
}
