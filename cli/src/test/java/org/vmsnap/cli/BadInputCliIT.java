package org.vmsnap.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.testkit.BadImage;
import org.vmsnap.testkit.BadImages;

/**
 * Every hostile image of {@link BadImages} through the in-process CLI, as a user would type
 * it: {@code vmsnap img info}, {@code check}, {@code map --output=json} and
 * {@code convert -O raw}. Each command either refuses the image with a non-zero exit code and
 * exactly one stderr line {@code vmsnap: ...} that names the file and carries the case's
 * hint, without a stack trace; or, only where the damage cannot matter to that command (see
 * {@link #HARMLESS}), does exactly what qemu-img does on the same file. The image is never
 * changed.
 */
class BadInputCliIT {

    /** One command on an 8 MiB image: anything slower is a hang. */
    private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(30);

    enum Command { INFO, CHECK, MAP, CONVERT }

    /**
     * The (case, command) pairs that may succeed, each because the damage cannot matter to
     * that command; a success must then match qemu-img's output and exit code exactly. Every
     * other pair must be refused.
     */
    private static final Map<String, Set<Command>> HARMLESS = Map.ofEntries(
            // No qcow2 magic: probed as raw, as qemu-img probes (info, map and convert of a
            // raw file); check refuses raw with qemu-img's exit code 63, compared like a success.
            Map.entry("bad-magic", Set.of(Command.INFO, Command.CHECK, Command.MAP, Command.CONVERT)),
            // info reads the header (and the snapshot table) only; a broken table or entry
            // that info never reads cannot matter to it.
            Map.entry("l1-offset-past-eof", Set.of(Command.INFO, Command.CHECK)),
            Map.entry("refcount-table-past-eof", Set.of(Command.INFO, Command.CHECK)),
            Map.entry("l1-entry-reserved-low-bit", Set.of(Command.INFO, Command.CHECK)),
            Map.entry("l1-entry-reserved-high-bit", Set.of(Command.INFO, Command.CHECK)),
            Map.entry("l2-entry-reserved-low-bit", Set.of(Command.INFO, Command.CHECK)),
            Map.entry("l2-entry-reserved-high-bit", Set.of(Command.INFO, Command.CHECK)),
            Map.entry("l2-table-at-l1-table", Set.of(Command.INFO, Command.CHECK)),
            Map.entry("l2-table-at-refcount-table", Set.of(Command.INFO, Command.CHECK)),
            Map.entry("l2-table-at-refcount-block", Set.of(Command.INFO, Command.CHECK)),
            // map reports where an L2 entry points without reading the cluster, as qemu-img map
            // does; reading the guest cluster that aliases metadata (convert) must be refused.
            Map.entry("data-cluster-at-l1-table", Set.of(Command.INFO, Command.CHECK, Command.MAP)),
            Map.entry("data-cluster-at-l2-table", Set.of(Command.INFO, Command.CHECK, Command.MAP)),
            // Refcounts matter to neither map nor reading: every guest byte is as qemu-img reads it.
            Map.entry("refcount-zero-for-used-cluster", Set.of(Command.INFO, Command.CHECK, Command.MAP,
                    Command.CONVERT)),
            Map.entry("truncated-in-l2-table", Set.of(Command.INFO, Command.CHECK)),
            // The cut data cluster: references and refcounts agree (check and map are right),
            // but reading must report the truncation.
            Map.entry("truncated-in-data", Set.of(Command.INFO, Command.CHECK, Command.MAP)),
            // A compressed cluster's bytes are read only by convert; map reports the cluster
            // without reading it.
            Map.entry("compressed-garbage", Set.of(Command.INFO, Command.CHECK, Command.MAP)),
            Map.entry("compressed-past-eof", Set.of(Command.INFO, Command.CHECK, Command.MAP)),
            Map.entry("snapshot-table-past-eof", Set.of(Command.CHECK)),
            // info does not open the backing file (nor does qemu-img info), and check looks at
            // this file only (qemu-img check opens the chain and fails on these names, so
            // its verdict on the valid overlay the cases were made from is the oracle).
            Map.entry("backing-name-too-long", Set.of(Command.INFO, Command.CHECK)),
            Map.entry("backing-name-nbd", Set.of(Command.INFO, Command.CHECK)),
            Map.entry("backing-name-http", Set.of(Command.INFO, Command.CHECK)),
            Map.entry("backing-name-json", Set.of(Command.INFO, Command.CHECK)),
            Map.entry("backing-cycle", Set.of(Command.INFO, Command.CHECK)));

    @TempDir
    static Path dir;

    static List<BadImage> cases;

    @BeforeAll
    static void generate() throws IOException {
        cases = BadImages.generate(dir);
    }

    @TestFactory
    Stream<DynamicContainer> everyBadImageThroughTheCli() {
        assertThat(cases).hasSize(42);
        return cases.stream().map(bad -> DynamicContainer.dynamicContainer(bad.name(),
                Arrays.stream(Command.values()).map(c ->
                        DynamicTest.dynamicTest(c.name().toLowerCase(Locale.ROOT), () -> run(bad, c)))));
    }

    private void run(BadImage bad, Command command) throws IOException {
        String file = bad.file().toString();
        Path output = dir.resolve(bad.name() + ".converted.raw");
        Files.deleteIfExists(output);
        String[] args = switch (command) {
            case INFO -> new String[] {"info", file};
            case CHECK -> new String[] {"check", file};
            case MAP -> new String[] {"map", "--output=json", file};
            case CONVERT -> new String[] {"convert", "-O", "raw", file, output.toString()};
        };
        String before = BadImages.sha256(bad.file());
        Cli.Run ours = assertTimeoutPreemptively(COMMAND_TIMEOUT, () -> Cli.run(Differential.prepend("img", args)),
                () -> "vmsnap img " + String.join(" ", args) + " did not finish");
        String what = "vmsnap img " + String.join(" ", args);
        assertThat(BadImages.sha256(bad.file())).as("%s changed the image", what).isEqualTo(before);
        assertThat(ours.err()).as("stderr of %s", what).doesNotContain("\tat ").doesNotContain("Exception");

        if (succeeded(command, ours)) {
            assertThat(HARMLESS.getOrDefault(bad.name(), Set.of())).as("%s succeeded (exit %d, stderr %s), but the"
                    + " case is not harmless for it", what, ours.exitCode(), ours.err()).contains(command);
            if (command == Command.CHECK && bad.name().equals("backing-cycle")) {
                // Never qemu-img check the cycle (QEMU 7.2 recurses through it); the file
                // itself is an empty overlay that qemu-img made.
                assertThat(ours.out()).as("stdout of %s", what).startsWith("No errors were found on the image.");
                assertThat(ours.exitCode()).as("exit code of %s", what).isZero();
            } else {
                String judged = command == Command.CHECK && bad.name().startsWith("backing-name-")
                        ? dir.resolve(BadImages.VALID_OVERLAY).toString() : file;
                Cli.Run qemu = QemuImg.run(qemuArgs(command, judged, dir.resolve(bad.name() + ".qemu.raw")));
                assertThat(ours.out()).as("stdout of %s (stderr: %s)", what, ours.err()).isEqualTo(qemu.out());
                assertThat(ours.exitCode()).as("exit code of %s (qemu-img stderr: %s)", what, qemu.err())
                        .isEqualTo(qemu.exitCode());
                if (command == Command.CHECK) {
                    // The findings, one per line on stderr, as qemu-img prints them (its own
                    // errors with "vmsnap: " for "qemu-img: ").
                    assertThat(ours.err().lines().toList()).as("findings of %s", what)
                            .isEqualTo(qemu.err().lines().map(l -> l.replaceFirst("^qemu-img: ", "vmsnap: ")).toList());
                }
                if (command == Command.CONVERT) {
                    assertThat(Files.mismatch(output, dir.resolve(bad.name() + ".qemu.raw")))
                            .as("first byte where %s differs from qemu-img convert", what).isEqualTo(-1);
                }
            }
        } else {
            assertThat(ours.exitCode()).as("exit code of %s (stderr: %s)", what, ours.err()).isEqualTo(1);
            List<String> lines = ours.err().lines().toList();
            assertThat(lines).as("stderr of %s", what).hasSize(1);
            String line = lines.getFirst();
            assertThat(line).as("stderr of %s", what).startsWith("vmsnap: ")
                    .contains(bad.file().getFileName().toString());
            assertThat(line.toLowerCase(Locale.ROOT)).as("stderr of %s has the hint", what)
                    .contains(bad.expectedMessagePart());
            if (command != Command.MAP) {
                // map, like qemu-img map, may have printed the extents before the broken one.
                assertThat(ours.out()).as("stdout of refused %s", what).isEmpty();
            }
        }
    }

    /**
     * Whether the command did its job: exit 0, or for check a report (exit 2 corruptions,
     * 3 leaks, 63 "format without checks"); exit 1 is a refusal for every command.
     */
    private static boolean succeeded(Command command, Cli.Run run) {
        return run.exitCode() == 0 || command == Command.CHECK && run.exitCode() != 1;
    }

    private static String[] qemuArgs(Command command, String file, Path output) throws IOException {
        Files.deleteIfExists(output);
        return switch (command) {
            case INFO -> new String[] {"info", file};
            case CHECK -> new String[] {"check", file};
            case MAP -> new String[] {"map", "--output=json", file};
            case CONVERT -> new String[] {"convert", "-O", "raw", file, output.toString()};
        };
    }
}
