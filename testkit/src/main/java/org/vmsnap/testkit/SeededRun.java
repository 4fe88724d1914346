package org.vmsnap.testkit;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Runs a model-based test body once per seed, with an operation log, and turns any failure
 * into an AssertionError that says how to replay it:
 *
 * <pre>{@code
 * SeededRun.run("random writes", run -> {
 *     Random r = run.random();
 *     for (int i = 0; i < 200; i++) {
 *         long off = r.nextLong(size);
 *         run.log("write 0x%x len %d", off, len);   // log first, then act
 *         ...
 *     }
 * });
 * }</pre>
 *
 * <p>Seeds: the system property {@value #SEED_PROPERTY} (one seed or a comma-separated
 * list, decimal or 0x-hex) replaces the default list, which is {@link #FIXED_SEEDS} plus one
 * fresh random seed per run (so CI explores, and a failure names the seed to replay).
 */
public final class SeededRun {

    /** System property that replaces the default seeds: {@code -Dvmsnap.seed=N} or {@code N,M}. */
    public static final String SEED_PROPERTY = "vmsnap.seed";

    /** Seeds every run tries, so a regression on a known sequence shows up every time. */
    public static final List<Long> FIXED_SEEDS = List.of(1L, 2L, 3L, 0x5eedL, 20240601L);

    /** How many of the last logged operations a failure message shows. */
    public static final int LOG_TAIL = 50;

    private SeededRun() {
    }

    /** The test body: use {@link Context#random()} for every random choice. */
    @FunctionalInterface
    public interface Body {
        void run(Context run) throws Exception;
    }

    /** One seeded run: its seed, its random source and its operation log. */
    public static final class Context {
        private final long seed;
        private final Random random;
        private final Deque<String> tail = new ArrayDeque<>(LOG_TAIL);
        private long operations;

        Context(long seed) {
            this.seed = seed;
            this.random = new Random(seed);
        }

        public long seed() {
            return seed;
        }

        /** Deterministic for the seed: {@code java.util.Random} gives the same sequence on every JDK. */
        public Random random() {
            return random;
        }

        /** Logs one operation ({@link String#format} with {@link Locale#ROOT}); log before acting. */
        public void log(String format, Object... args) {
            operations++;
            if (tail.size() == LOG_TAIL) {
                tail.removeFirst();
            }
            tail.addLast("#" + operations + " " + String.format(Locale.ROOT, format, args));
        }

        /** Number of operations logged so far. */
        public long operationCount() {
            return operations;
        }

        /** The last {@value #LOG_TAIL} logged operations, oldest first, each prefixed with its number. */
        public List<String> recentOperations() {
            return List.copyOf(tail);
        }
    }

    /**
     * The seeds a run uses: those of {@value #SEED_PROPERTY} when set, otherwise
     * {@link #FIXED_SEEDS} and one random seed.
     */
    public static List<Long> seeds() {
        String property = System.getProperty(SEED_PROPERTY);
        if (property != null && !property.isBlank()) {
            List<Long> seeds = new ArrayList<>();
            for (String part : property.split(",")) {
                seeds.add(parseSeed(part.strip()));
            }
            return List.copyOf(seeds);
        }
        List<Long> seeds = new ArrayList<>(FIXED_SEEDS);
        seeds.add(ThreadLocalRandom.current().nextLong());
        return List.copyOf(seeds);
    }

    /** Runs {@code body} once per seed of {@link #seeds()}; stops at the first failing seed. */
    public static void run(String name, Body body) {
        for (long seed : seeds()) {
            run(name, seed, body);
        }
    }

    /**
     * Runs {@code body} with one seed.
     *
     * @throws AssertionError on any failure of the body, naming the seed, the replay
     *                        property and the last logged operations, with the failure as cause
     */
    public static void run(String name, long seed, Body body) {
        Context context = new Context(seed);
        try {
            body.run(context);
        } catch (Throwable failure) {
            if (failure instanceof VirtualMachineError vmError && !(vmError instanceof OutOfMemoryError)) {
                throw vmError;
            }
            if (failure instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            throw new AssertionError(report(name, context, failure), failure);
        }
    }

    static String report(String name, Context context, Throwable failure) {
        StringBuilder sb = new StringBuilder();
        sb.append(name).append(" failed with seed ").append(context.seed())
                .append(" (replay: -D").append(SEED_PROPERTY).append('=').append(context.seed()).append(')')
                .append(" after ").append(context.operationCount()).append(" operations: ")
                .append(failure);
        List<String> recent = context.recentOperations();
        if (recent.isEmpty()) {
            sb.append("\nno operations logged");
        } else {
            sb.append("\nlast ").append(recent.size()).append(" operations:");
            for (String op : recent) {
                sb.append("\n  ").append(op);
            }
        }
        return sb.toString();
    }

    private static long parseSeed(String text) {
        try {
            if (text.startsWith("0x") || text.startsWith("0X")) {
                return Long.parseUnsignedLong(text.substring(2), 16);
            }
            return Long.parseLong(text);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("-D" + SEED_PROPERTY + " must be numbers, got '" + text + "'", e);
        }
    }
}
