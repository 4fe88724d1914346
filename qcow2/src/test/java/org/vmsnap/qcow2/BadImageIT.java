package org.vmsnap.qcow2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.testkit.BadImage;
import org.vmsnap.testkit.BadImages;
import org.vmsnap.testkit.QemuImg;
import org.vmsnap.testkit.QemuTools;

/**
 * Every hostile image of {@link BadImages}, handled as a user would: open read-only and read
 * the whole disk, check, then open read-write and write one cluster. Each operation either
 * succeeds correctly (only where the case cannot hurt that operation: see {@link #HARMLESS})
 * or throws an {@link ImageException} whose message is one line, names the file and carries
 * the case's hint; never an unchecked exception, an {@link OutOfMemoryError}, a huge
 * allocation or a hang; and a failed operation leaves the file's bytes as they were.
 *
 * <p>The operations run in that order on the case's own file (so backing names and the
 * backing cycle resolve as generated); the write comes last because it may succeed.
 */
class BadImageIT {

    /** One operation may take this long: the images are 8 MiB; anything slower is a hang. */
    private static final Duration OP_TIMEOUT = Duration.ofSeconds(20);
    /**
     * Bytes one operation may allocate on the Java heap: reading the whole 8 MiB disk needs a
     * few MiB; a case like "header-extension-huge" or "l1-size-too-large" must not make the
     * engine allocate what the header claims (gigabytes), even when the heap would allow it.
     */
    private static final long MAX_ALLOCATION_BYTES = 256L << 20;

    /** Where the operation writes one cluster: guest 3 MiB, unallocated in every source image. */
    private static final long WRITE_GUEST_OFFSET = 3L << 20;
    private static final int WRITE_PATTERN = 0x5a;
    /** Header field incompatible_features (bytes 72-79) and its "corrupt" bit. */
    private static final int INCOMPATIBLE_FEATURES = 72;
    private static final long CORRUPT_BIT = 1L << 1;

    enum Op {
        READ,
        CHECK,
        /** Write a cluster at guest 3 MiB: unallocated, so the write allocates a data cluster. */
        WRITE_NEW,
        /** Overwrite the cluster at guest 1 MiB: the one whose L2 entry several cases break. */
        WRITE_DATA
    }

    /**
     * The (case, operation) pairs that may succeed, each because the damage cannot matter to
     * that operation. Every other pair must fail with a typed error.
     */
    private static final Map<String, Set<Op>> HARMLESS = Map.ofEntries(
            // Without -f the user's file is probed as qemu-img does: no qcow2 magic means a
            // raw disk, and reading it as raw gives the file's bytes (checked below).
            // Check and write name the format (qcow2) and must refuse it.
            Map.entry("bad-magic", Set.of(Op.READ)),
            // Reading never consults refcounts, and the cluster at guest 1 MiB is rewritten in
            // place (its L2 entry has COPIED set), so neither allocates: every guest byte is
            // as QEMU reads it. The check must report the refcount error; a write that
            // allocates must not hand out the cluster whose refcount says free.
            Map.entry("refcount-zero-for-used-cluster", Set.of(Op.READ, Op.CHECK, Op.WRITE_DATA)),
            // Problems in references and refcounts that the header does not show are what a
            // check is for: it reports them as a result, with qemu-img check's exit code and
            // corruption count (compared below).
            Map.entry("l1-offset-past-eof", Set.of(Op.CHECK)),
            Map.entry("refcount-table-past-eof", Set.of(Op.CHECK)),
            Map.entry("l1-entry-reserved-low-bit", Set.of(Op.CHECK)),
            Map.entry("l1-entry-reserved-high-bit", Set.of(Op.CHECK)),
            Map.entry("l2-table-at-l1-table", Set.of(Op.CHECK)),
            Map.entry("l2-table-at-refcount-table", Set.of(Op.CHECK)),
            Map.entry("l2-table-at-refcount-block", Set.of(Op.CHECK)),
            Map.entry("truncated-in-l2-table", Set.of(Op.CHECK)),
            Map.entry("snapshot-table-past-eof", Set.of(Op.CHECK)),
            // One broken L2 entry (guest 1 MiB) breaks that guest cluster only: a write to
            // guest 3 MiB uses another entry of the same L2 table and allocates by refcounts,
            // which are right (the check says what it says before and after, compared below).
            // Reading the whole disk and overwriting guest 1 MiB must report it.
            Map.entry("l2-entry-reserved-low-bit", Set.of(Op.CHECK, Op.WRITE_NEW)),
            Map.entry("l2-entry-reserved-high-bit", Set.of(Op.CHECK, Op.WRITE_NEW)),
            Map.entry("data-cluster-at-l1-table", Set.of(Op.CHECK, Op.WRITE_NEW)),
            Map.entry("data-cluster-at-l2-table", Set.of(Op.CHECK, Op.WRITE_NEW)),
            // The broken compressed cluster is guest 0: writes to guest 1 MiB and 3 MiB never
            // read it, and its refcount is right (qemu-img check is clean for the garbage and
            // finds only the offset past the end). Reading the whole disk must report it.
            Map.entry("compressed-garbage", Set.of(Op.CHECK, Op.WRITE_NEW, Op.WRITE_DATA)),
            Map.entry("compressed-past-eof", Set.of(Op.CHECK, Op.WRITE_NEW, Op.WRITE_DATA)),
            // The cut data cluster is guest 7 MiB; references and refcounts agree, so a check
            // (qemu-img's too) has nothing to report, and writes to guest 1 and 3 MiB neither
            // read it nor allocate over it. Reading the whole disk must report the truncation.
            Map.entry("truncated-in-data", Set.of(Op.CHECK, Op.WRITE_NEW, Op.WRITE_DATA)),
            // A check looks at this file only and never opens the backing file (nor does
            // qemu-img check -r none need to), so a hostile backing name cannot matter to it:
            // the file itself is a valid overlay and checks clean.
            Map.entry("backing-name-too-long", Set.of(Op.CHECK)),
            Map.entry("backing-name-nbd", Set.of(Op.CHECK)),
            Map.entry("backing-name-http", Set.of(Op.CHECK)),
            Map.entry("backing-name-json", Set.of(Op.CHECK)),
            Map.entry("backing-cycle", Set.of(Op.CHECK)));

    @TempDir
    static Path dir;

    static List<BadImage> cases;
    /** Guest contents of each source image, read by QEMU: the oracle for successful reads. */
    static final Map<String, byte[]> SOURCE_CONTENTS = new HashMap<>();

    @BeforeAll
    static void generate() throws IOException {
        cases = BadImages.generate(dir);
        for (String source : List.of(BadImages.VALID, BadImages.VALID_OVERLAY, BadImages.VALID_WITH_SNAPSHOT)) {
            Path raw = dir.resolve(source + ".raw");
            QemuImg.convert(dir.resolve(source), "qcow2", raw, "raw");
            SOURCE_CONTENTS.put(source, Files.readAllBytes(raw));
        }
    }

    @TestFactory
    Stream<DynamicContainer> everyBadImage() {
        assertThat(cases).hasSize(42);
        assertThat(HARMLESS.keySet()).allSatisfy(name -> BadImages.byName(cases, name));
        return cases.stream().map(bad -> DynamicContainer.dynamicContainer(bad.name(), Stream.of(
                DynamicTest.dynamicTest("read", () -> read(bad)),
                DynamicTest.dynamicTest("check", () -> check(bad)),
                DynamicTest.dynamicTest("write-new", () -> write(bad, Op.WRITE_NEW, WRITE_GUEST_OFFSET)),
                DynamicTest.dynamicTest("write-data", () -> write(bad, Op.WRITE_DATA, BadImages.DATA_GUEST_OFFSET)))));
    }

    /**
     * A guest cluster that is the L1 or an L2 table is refused for writing with that cause named
     * (the checker hands the under-counted clusters over as numbers, not in its text).
     */
    @Test
    void aDataClusterOnMetadataIsNamedAsAnOverlapWhenOpenedForWriting() {
        for (String[] c : new String[][] {{"data-cluster-at-l2-table", "holds the L2 table"},
                {"data-cluster-at-l1-table", "holds the active L1 table"}}) {
            BadImage bad = BadImages.byName(cases, c[0]);
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> {
                try (BlockDevice d = Images.open(bad.file(), OpenOptions.readWrite())) {
                    d.flush();
                }
            }).as(c[0]).isInstanceOf(CorruptImageException.class).hasMessageContaining(c[1])
                    .hasMessageContaining("also referenced as guest data (overlap)");
        }
    }

    private void read(BadImage bad) throws IOException {
        String before = BadImages.sha256(bad.file());
        Outcome<byte[]> outcome = run(bad, () -> {
            try (BlockDevice device = Images.open(bad.file(), OpenOptions.readOnlyOpen())) {
                return readAll(device);
            }
        });
        // Read-only: the file never changes, whatever happens.
        assertThat(BadImages.sha256(bad.file())).as("%s changed by a read-only open", bad).isEqualTo(before);
        if (outcome.isSuccess()) {
            byte[] expected = bad.name().equals("bad-magic") ? Files.readAllBytes(bad.file()) : sourceContents(bad);
            assertThat(Arrays.mismatch(outcome.value(), expected)).as("first wrong byte read from %s", bad)
                    .isEqualTo(-1);
            assertHarmless(bad, Op.READ, outcome);
        } else {
            assertTypedError(bad, Op.READ, outcome.failure());
        }
    }

    private void check(BadImage bad) throws IOException {
        String before = BadImages.sha256(bad.file());
        Outcome<CheckResult> outcome = run(bad, () -> Qcow2Image.check(bad.file(), RepairMode.NONE));
        assertThat(BadImages.sha256(bad.file())).as("%s changed by check -r none", bad).isEqualTo(before);
        if (outcome.isSuccess()) {
            assertHarmless(bad, Op.CHECK, outcome);
            CheckResult result = outcome.value();
            if (bad.name().startsWith("backing-")) {
                // Not judged by qemu-img check: it opens the backing chain, and fails on
                // these names (or, for the cycle, recurses through it in QEMU 7.2). The file
                // itself is a valid overlay: nothing to report.
                assertThat(result.exitCode()).as("check of %s: %s", bad, result.messages()).isZero();
            } else {
                QemuImg.CheckOutcome qemu = QemuImg.check(bad.file());
                assertThat(result.exitCode()).as("check exit code of %s (qemu-img: %s); findings %s",
                        bad, qemu.json(), result.messages()).isEqualTo(qemu.exitCode());
                if (qemu.json() != null) {
                    assertThat(result.corruptions()).as("corruptions in %s: %s", bad, result.messages())
                            .isEqualTo(qemu.json().path("corruptions").asLong(0));
                }
            }
        } else {
            assertTypedError(bad, Op.CHECK, outcome.failure());
        }
    }

    /**
     * Opens read-write, writes one cluster of {@link #WRITE_PATTERN} at {@code guestOffset}
     * and flushes. The file's bytes are put back afterwards, so each write starts from the
     * case as generated.
     */
    private void write(BadImage bad, Op op, long guestOffset) throws IOException {
        byte[] original = Files.readAllBytes(bad.file());
        boolean qemuMayLook = !bad.name().equals("backing-cycle");
        int qemuCheckBefore = qemuMayLook ? QemuImg.check(bad.file()).exitCode() : -1;
        byte[] contentsBefore = qemuMayLook ? salvagedContents(bad.file(), "before") : null; // null: unreadable
        Outcome<Integer> outcome = run(bad, () -> {
            try (Qcow2Image image = Qcow2Image.open(bad.file(), OpenOptions.readWrite())) {
                byte[] cluster = new byte[image.clusterSize()];
                Arrays.fill(cluster, (byte) WRITE_PATTERN);
                image.write(guestOffset, ByteBuffer.wrap(cluster));
                image.flush();
                return cluster.length;
            }
        });
        try {
            if (outcome.isSuccess()) {
                // QEMU reads the new cluster, everything else as before, and judges the file
                // no worse than before.
                assertThat(contentsBefore).as("%s: QEMU cannot read it, yet the write succeeded", bad).isNotNull();
                byte[] expected = contentsBefore.clone();
                byte[] after = salvagedContents(bad.file(), "after");
                assertThat(after).as("QEMU reads %s after the write", bad).isNotNull();
                Arrays.fill(expected, (int) guestOffset, (int) guestOffset + outcome.value(), (byte) WRITE_PATTERN);
                if (bad.name().startsWith("data-cluster-at-")) {
                    // Guest 1 MiB reads a metadata cluster (that is the damage), which a
                    // write elsewhere may legitimately update: not compared.
                    int from = (int) BadImages.DATA_GUEST_OFFSET;
                    Arrays.fill(expected, from, from + BadImages.CLUSTER_SIZE, (byte) 0);
                    Arrays.fill(after, from, from + BadImages.CLUSTER_SIZE, (byte) 0);
                }
                assertThat(Arrays.mismatch(after, expected))
                        .as("first guest byte of %s that QEMU reads differently after the write", bad).isEqualTo(-1);
                assertThat(QemuImg.check(bad.file()).exitCode()).as("qemu-img check of %s after the write", bad)
                        .isEqualTo(qemuCheckBefore);
                assertHarmless(bad, op, outcome);
            } else {
                assertUnchangedOrOnlyMarkedCorrupt(bad, original);
                assertTypedError(bad, op, outcome.failure());
            }
        } finally {
            Files.write(bad.file(), original);
        }
    }

    /** The guest contents as QEMU reads them, with unreadable parts as zeros (convert --salvage). */
    private static byte[] salvagedContents(Path image, String when) throws IOException {
        Path raw = dir.resolve(image.getFileName() + "." + when + ".raw");
        Files.deleteIfExists(raw);
        QemuTools.Result r = QemuImg.runUnchecked(List.of("convert", "-f", "qcow2", "-O", "raw", "--salvage",
                image.toString(), raw.toString()));
        if (r.exitCode() != 0) {
            return null;
        }
        byte[] contents = Files.readAllBytes(raw);
        Files.delete(raw);
        return contents;
    }

    /**
     * A failed write leaves the file as it was, except that a write refused because it would
     * land on metadata marks the image corrupt (the v3 corrupt bit, incompatible_features
     * bit 1, bytes 72-79), as QEMU does, so that later opens for writing are refused.
     */
    private static void assertUnchangedOrOnlyMarkedCorrupt(BadImage bad, byte[] original) throws IOException {
        byte[] now = Files.readAllBytes(bad.file());
        if (Arrays.equals(now, original)) {
            return;
        }
        assertThat(now.length).as("%s: length changed by a failed write", bad).isEqualTo(original.length);
        byte[] unmarked = now.clone();
        long features = ByteBuffer.wrap(now).getLong(INCOMPATIBLE_FEATURES);
        long originalFeatures = ByteBuffer.wrap(original).getLong(INCOMPATIBLE_FEATURES);
        assertThat(features).as("%s changed by a failed write: only the corrupt bit may be set", bad)
                .isEqualTo(originalFeatures | CORRUPT_BIT);
        ByteBuffer.wrap(unmarked).putLong(INCOMPATIBLE_FEATURES, originalFeatures);
        assertThat(Arrays.mismatch(unmarked, original)).as("%s: first byte changed by a failed write", bad)
                .isEqualTo(-1);
    }

    private static void assertHarmless(BadImage bad, Op op, Outcome<?> outcome) {
        assertThat(HARMLESS.getOrDefault(bad.name(), Set.of()))
                .as("%s %s succeeded, but the case is not harmless for it", bad, op)
                .contains(op);
    }

    /** An ImageException, one line, naming the file and carrying the hint. */
    static void assertTypedError(BadImage bad, Op op, Throwable failure) {
        assertThat(failure).as("%s %s failed with an untyped error:%n%s", bad, op, stackTrace(failure))
                .isInstanceOf(ImageException.class);
        String message = failure.getMessage();
        assertThat(message).as("%s %s: message", bad, op).isNotBlank().doesNotContain("\n").doesNotContain("\r");
        assertThat(message).as("%s %s: message names the file", bad, op)
                .contains(bad.file().getFileName().toString());
        assertThat(message.toLowerCase(Locale.ROOT)).as("%s %s: message has the hint '%s'", bad, op,
                bad.expectedMessagePart()).contains(bad.expectedMessagePart());
    }

    static String stackTrace(Throwable t) {
        java.io.StringWriter w = new java.io.StringWriter();
        t.printStackTrace(new java.io.PrintWriter(w));
        return w.toString();
    }

    private static byte[] sourceContents(BadImage bad) {
        String source = bad.name().startsWith("backing-name") ? BadImages.VALID_OVERLAY
                : bad.name().startsWith("snapshot-") ? BadImages.VALID_WITH_SNAPSHOT
                : BadImages.VALID;
        return SOURCE_CONTENTS.get(source);
    }

    private static byte[] readAll(BlockDevice device) throws IOException {
        long size = device.size();
        assertThat(size).as("virtual size of %s", device.path()).isBetween(0L, 64L << 20);
        byte[] all = new byte[(int) size];
        ByteBuffer buffer = ByteBuffer.wrap(all);
        int chunk = 1 << 20;
        while (buffer.hasRemaining()) {
            ByteBuffer slice = buffer.slice(buffer.position(), Math.min(chunk, buffer.remaining()));
            device.read(buffer.position(), slice);
            buffer.position(buffer.position() + slice.capacity());
        }
        return all;
    }

    @FunctionalInterface
    interface Action<T> {
        T run() throws Exception;
    }

    /** The result or the failure of one operation. */
    record Outcome<T>(T value, Throwable failure) {
        boolean isSuccess() {
            return failure == null;
        }
    }

    /**
     * Runs one operation with a timeout (preemptive: a hang fails the test instead of
     * blocking the build) and measures what it allocates on its thread.
     */
    static <T> Outcome<T> run(BadImage bad, Action<T> action) {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        return assertTimeoutPreemptively(OP_TIMEOUT, () -> {
            long thread = Thread.currentThread().threadId();
            long allocatedBefore = threads.getThreadAllocatedBytes(thread);
            Outcome<T> outcome;
            try {
                outcome = new Outcome<>(action.run(), null);
            } catch (Exception | OutOfMemoryError | StackOverflowError e) {
                outcome = new Outcome<>(null, e);
            }
            long allocated = threads.getThreadAllocatedBytes(thread) - allocatedBefore;
            if (outcome.failure() instanceof Error error) {
                throw new AssertionError(bad + ": " + error, error);
            }
            assertThat(allocated).as("%s: bytes allocated by one operation (outcome %s)", bad, outcome.failure())
                    .isLessThan(MAX_ALLOCATION_BYTES);
            return outcome;
        }, () -> bad + ": operation did not finish within " + OP_TIMEOUT);
    }
}
