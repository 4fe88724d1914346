package org.vmsnap.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code vmsnap} with no arguments on a real pseudo-terminal (util-linux script): the greeting,
 * the prompt, a command, an error that does not end the shell, Ctrl-C dropping a line, Up
 * recalling the last line (the JDK's JLine console), history, and Ctrl-D ending it with the
 * last status. Keys are sent only once the prompt they answer is shown, as a user types.
 */
class ShellTerminalIT {
    @TempDir
    Path dir;

    private final StringBuffer screen = new StringBuffer();

    @Test
    void theShellOnATerminal() throws Exception {
        Path image = dir.resolve("my disk.qcow2");
        assertThat(Cli.run("img", "create", "-q", "-f", "qcow2", image.toString(), "1M").exitCode()).isZero();
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String jar = Path.of("target", "vmsnap.jar").toAbsolutePath().toString();
        // script's pty has no size when its stdin is a pipe: JLine would then cut the prompt.
        ProcessBuilder pb = new ProcessBuilder("script", "-qec", "stty cols 100 rows 30; exec '" + java
                + "' --enable-native-access=ALL-UNNAMED -jar '" + jar + "'", "/dev/null");
        pb.environment().put("TERM", "xterm");
        pb.environment().put("VMSNAP_HOME", dir.resolve("home").toString());
        pb.redirectErrorStream(true);
        Process p = pb.start();
        Thread reader = Thread.ofVirtual().start(() -> copy(p.getInputStream()));
        try (OutputStream keys = p.getOutputStream()) {
            await("vmsnap # ", 1);
            assertThat(screen.toString()).contains("Welcome to vmsnap").contains("'quit' to quit");
            type(keys, "img info '" + image + "'\r");
            await("vmsnap # ", 2);
            assertThat(screen.toString()).contains("virtual size: 1 MiB (1048576 bytes)");
            type(keys, "bogus\r");
            await("vmsnap # ", 3);
            assertThat(count("vmsnap: unknown command: 'bogus'")).isEqualTo(1);
            // Ctrl-C: the line is dropped and a fresh prompt shown.
            int prompts = count("vmsnap # ");
            type(keys, "half a line\u0003");
            await("vmsnap # ", prompts + 1);
            type(keys, "\u001bOA\r"); // Up, as xterm sends it in the application mode JLine sets
            await("vmsnap: unknown command: 'bogus'", 2);
            type(keys, "history\r");
            await("    4  history", 1);
            assertThat(screen.toString()).contains("    1  img info '" + image + "'\r\n    2  bogus\r\n    3  bogus\r\n"
                    + "    4  history\r\n");
            type(keys, "\u0004");
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).as(screen.toString()).isTrue();
        } finally {
            p.destroyForcibly();
        }
        reader.join(10_000);
        assertThat(p.exitValue()).as("history's status; %s", screen).isZero();
        assertThat(screen.toString()).doesNotContain("half a line\r\n").doesNotContain("Exception");
    }

    private void copy(InputStream in) {
        byte[] buf = new byte[4096];
        try {
            for (int n; (n = in.read(buf)) > 0;) {
                screen.append(new String(buf, 0, n, StandardCharsets.UTF_8));
            }
        } catch (IOException e) {
            screen.append("\n[read failed: ").append(e).append("]");
        }
    }

    private static void type(OutputStream keys, String text) throws IOException {
        keys.write(text.getBytes(StandardCharsets.UTF_8));
        keys.flush();
    }

    private int count(String text) {
        return screen.toString().split(java.util.regex.Pattern.quote(text), -1).length - 1;
    }

    private void await(String text, int times) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (count(text) < times) {
            assertThat(System.nanoTime()).as("%d x '%s' on the screen:%n%s", times, text, screen).isLessThan(end);
            Thread.sleep(50);
        }
    }
}
