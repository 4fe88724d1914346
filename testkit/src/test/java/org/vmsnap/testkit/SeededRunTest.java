package org.vmsnap.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class SeededRunTest {

    private String savedProperty;

    @BeforeEach
    void saveProperty() {
        savedProperty = System.getProperty(SeededRun.SEED_PROPERTY);
        System.clearProperty(SeededRun.SEED_PROPERTY);
    }

    @AfterEach
    void restoreProperty() {
        if (savedProperty == null) {
            System.clearProperty(SeededRun.SEED_PROPERTY);
        } else {
            System.setProperty(SeededRun.SEED_PROPERTY, savedProperty);
        }
    }

    @Test
    void aFailureNamesTheSeedTheReplayAndTheLastFiftyOperations() {
        IOException cause = new IOException("boom at 0x1000");
        Throwable thrown = catchFailure(() -> SeededRun.run("writes", 77, run -> {
            for (int i = 1; i <= 120; i++) {
                run.log("write %d", i);
            }
            throw cause;
        }));
        assertThat(thrown).isInstanceOf(AssertionError.class).hasCause(cause);
        String message = thrown.getMessage();
        assertThat(message)
                .contains("writes failed with seed 77")
                .contains("-Dvmsnap.seed=77")
                .contains("after 120 operations")
                .contains("boom at 0x1000")
                .contains("#71 write 71")
                .contains("#120 write 120")
                .doesNotContain("#70 write 70");
        assertThat(message.lines().filter(l -> l.startsWith("  #"))).hasSize(SeededRun.LOG_TAIL);
    }

    @Test
    void anAssertionFailureInTheBodyIsReportedTheSameWay() {
        Throwable thrown = catchFailure(() -> SeededRun.run("model", 5, run -> {
            run.log("read 0 512");
            assertThat(1).isEqualTo(2);
        }));
        assertThat(thrown).isInstanceOf(AssertionError.class).hasMessageContaining("seed 5")
                .hasMessageContaining("#1 read 0 512");
        assertThat(thrown.getCause()).isInstanceOf(AssertionError.class);
    }

    @Test
    void theSameSeedGivesTheSameRandomSequence() {
        List<Long> first = new ArrayList<>();
        List<Long> second = new ArrayList<>();
        SeededRun.run("a", 1234, run -> first.add(run.random().nextLong()));
        SeededRun.run("b", 1234, run -> second.add(run.random().nextLong()));
        assertThat(first).isEqualTo(second).hasSize(1);
    }

    @Test
    void defaultSeedsAreTheFixedListPlusOneRandom() {
        List<Long> seeds = SeededRun.seeds();
        assertThat(seeds).hasSize(SeededRun.FIXED_SEEDS.size() + 1).startsWith(SeededRun.FIXED_SEEDS.toArray(Long[]::new));
    }

    @Test
    void thePropertyReplacesTheSeeds() {
        System.setProperty(SeededRun.SEED_PROPERTY, "42, 0x10,-3");
        assertThat(SeededRun.seeds()).containsExactly(42L, 16L, -3L);
        List<Long> ran = new ArrayList<>();
        SeededRun.run("replay", run -> ran.add(run.seed()));
        assertThat(ran).containsExactly(42L, 16L, -3L);
        System.setProperty(SeededRun.SEED_PROPERTY, "x");
        assertThatThrownBy(SeededRun::seeds).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("vmsnap.seed");
    }

    @Test
    void runStopsAtTheFirstFailingSeed() {
        AtomicInteger calls = new AtomicInteger();
        Throwable thrown = catchFailure(() -> SeededRun.run("stop", run -> {
            calls.incrementAndGet();
            if (run.seed() == SeededRun.FIXED_SEEDS.get(1)) {
                throw new IllegalStateException("second seed fails");
            }
        }));
        assertThat(calls).hasValue(2);
        assertThat(thrown).hasMessageContaining("seed " + SeededRun.FIXED_SEEDS.get(1));
    }

    @Test
    void aPassingBodyRunsOncePerSeed() {
        AtomicInteger calls = new AtomicInteger();
        SeededRun.run("pass", run -> calls.incrementAndGet());
        assertThat(calls).hasValue(SeededRun.FIXED_SEEDS.size() + 1);
    }

    private static Throwable catchFailure(Runnable r) {
        try {
            r.run();
        } catch (Throwable t) {
            return t;
        }
        throw new AssertionError("expected a failure");
    }
}
