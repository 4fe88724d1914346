package org.vmsnap.zstd;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs qemu-img and friends. A missing tool is an IOException, so the test fails instead of
 * passing without its oracle.
 */
final class QemuTool {

    private static final long TIMEOUT_SECONDS = 120;

    record Result(List<String> command, int exitCode, String stdout, String stderr) {

        Result expectExit(int expected) {
            if (exitCode != expected) {
                throw new AssertionError(String.join(" ", command) + " exited " + exitCode
                        + " (expected " + expected + ")\nstdout: " + stdout + "\nstderr: " + stderr);
            }
            return this;
        }
    }

    private QemuTool() {
    }

    static Result run(Path workDir, String... command) throws IOException, InterruptedException {
        Path out = Files.createTempFile(workDir, "out", ".txt");
        Path err = Files.createTempFile(workDir, "err", ".txt");
        Process process = new ProcessBuilder(command).directory(workDir.toFile())
                .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor();
            throw new IOException(String.join(" ", command) + " did not finish in " + TIMEOUT_SECONDS + " s");
        }
        return new Result(List.of(command), process.exitValue(),
                Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
    }
}
