package org.vmsnap.testkit;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Finds the QEMU tools on {@code PATH} and runs them with a timeout.
 *
 * <p>A missing tool is an {@link AssertionError}, never an assumption failure: QEMU is the
 * format oracle, so a test that cannot ask it must fail, not be skipped.
 *
 * <p>stdout and stderr go to temporary files rather than pipes, so a tool that prints
 * megabytes (a {@code qemu-img map} of a fragmented image) can never block on a full pipe
 * while we wait for it to exit.
 */
public final class QemuTools {

    /** How long a tool may run when the caller does not say: generous for 2 shared cores. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(2);

    private static final String INSTALL_HINT = "./vmsnap-test installs qemu-utils";

    private QemuTools() {
    }

    /** What a finished tool left behind. */
    public record Result(List<String> command, int exitCode, String stdout, String stderr) {

        public Result {
            command = List.copyOf(command);
        }

        /** Returns this result, or fails with the command line and both outputs. */
        public Result requireSuccess() {
            if (exitCode != 0) {
                throw new AssertionError(describe("exited with " + exitCode));
            }
            return this;
        }

        /** A multi-line description for failure messages. */
        public String describe(String what) {
            return String.join(" ", command) + " " + what
                    + "\n--- stdout ---\n" + stdout
                    + "\n--- stderr ---\n" + stderr;
        }
    }

    /** {@code qemu-img}, or an AssertionError naming how to install it. */
    public static Path qemuImg() {
        return find("qemu-img", "qemu-utils");
    }

    /** {@code qemu-io}, or an AssertionError naming how to install it. */
    public static Path qemuIo() {
        return find("qemu-io", "qemu-utils");
    }

    /** {@code qemu-system-x86_64}, or an AssertionError naming how to install it. */
    public static Path qemuSystem() {
        return find("qemu-system-x86_64", "qemu-system-x86");
    }

    /**
     * The executable {@code name} from {@code PATH}.
     *
     * @throws AssertionError when it is not there, with the install hint
     */
    public static Path find(String name, String debianPackage) {
        String path = System.getenv("PATH");
        if (path != null) {
            for (String dir : path.split(File.pathSeparator)) {
                if (dir.isEmpty()) {
                    continue;
                }
                Path candidate = Path.of(dir, name);
                if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
                    return candidate;
                }
            }
        }
        String hint = debianPackage.equals("qemu-utils") ? INSTALL_HINT : "install the Debian package " + debianPackage;
        throw new AssertionError(name + " not found: " + hint);
    }

    /** Runs {@code command} with the {@link #DEFAULT_TIMEOUT}. */
    public static Result run(List<String> command) {
        return run(command, DEFAULT_TIMEOUT);
    }

    /**
     * Runs {@code command}, waits at most {@code timeout}, and returns its exit code and
     * outputs. On timeout the process is killed and reaped before the AssertionError is
     * thrown, so no test leaves a tool running behind it.
     */
    public static Result run(List<String> command, Duration timeout) {
        Path out = null;
        Path err = null;
        Process process = null;
        try {
            out = Files.createTempFile("vmsnap-tool-", ".out");
            err = Files.createTempFile("vmsnap-tool-", ".err");
            process = new ProcessBuilder(command)
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectOutput(out.toFile())
                    .redirectError(err.toFile())
                    .start();
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                kill(process);
                throw new AssertionError(String.join(" ", command) + " did not finish within " + timeout
                        + "\n--- stdout ---\n" + readQuietly(out) + "\n--- stderr ---\n" + readQuietly(err));
            }
            return new Result(command, process.exitValue(), read(out), read(err));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + String.join(" ", command), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while running " + String.join(" ", command), e);
        } finally {
            if (process != null && process.isAlive()) {
                kill(process);
            }
            deleteQuietly(out);
            deleteQuietly(err);
        }
    }

    /** Kills the process and its children, then reaps it (uninterruptibly, it is quick). */
    private static void kill(Process process) {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
        boolean interrupted = false;
        while (true) {
            try {
                process.waitFor();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** Lenient decoding: a stray non-UTF-8 byte in a tool's output must not hide the rest. */
    private static String read(Path file) throws IOException {
        return new String(Files.readAllBytes(file), StandardCharsets.UTF_8);
    }

    private static String readQuietly(Path file) {
        try {
            return read(file);
        } catch (IOException e) {
            return "(unreadable: " + e + ")";
        }
    }

    private static void deleteQuietly(Path file) {
        if (file == null) {
            return;
        }
        try {
            Files.deleteIfExists(file);
        } catch (IOException ignored) {
            // a leftover temp file is harmless
        }
    }
}
