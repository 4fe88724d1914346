package org.vmsnap.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class MainTest {

    @Test
    void versionNamesTheProjectVersion() {
        Cli.Run r = Cli.run("--version");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).matches("vmsnap version \\d+\\.\\d+\\.\\d+(-SNAPSHOT)?\n");
    }

    @Test
    void errorsAreOneLineWithoutDebugAndAStackTraceWithIt() {
        Cli.Run plain = Cli.run("img", "info", "/nonexistent/x.qcow2");
        assertThat(plain.exitCode()).isEqualTo(1);
        assertThat(plain.err()).isEqualTo("vmsnap: Could not open '/nonexistent/x.qcow2': No such file or directory\n");

        Cli.Run debug = Cli.run("--debug", "img", "info", "/nonexistent/x.qcow2");
        assertThat(debug.exitCode()).isEqualTo(1);
        assertThat(debug.err()).contains("java.nio.file.NoSuchFileException").contains("\tat ")
                .endsWith("vmsnap: Could not open '/nonexistent/x.qcow2': No such file or directory\n");

        Cli.Run debugAfter = Cli.run("img", "info", "--debug", "/nonexistent/x.qcow2");
        assertThat(debugAfter.err()).contains("\tat ");
    }

    @Test
    void usageErrorsAreOneLineWithExitCodeOne() {
        Cli.Run r = Cli.run("img", "info", "--bogus", "x");
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).startsWith("vmsnap: ").contains("--bogus");
        assertThat(r.err().lines()).hasSize(1);
        Cli.Run none = Cli.run();
        assertThat(none.exitCode()).isEqualTo(1);
        assertThat(none.err().lines()).hasSize(1);
    }

    @Test
    void helpListsTheImgCommands() {
        Cli.Run r = Cli.run("img", "--help");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).contains("create", "info", "check", "map", "compare", "convert", "resize");
        assertThat(Cli.run("--help").out()).contains("demo").doesNotContain("aot-training");
    }
}
