package org.vmsnap.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.Callable;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * Several commands in one JVM: a command string ({@code vmsnap 'cmd1; cmd2'}) and the shell's
 * lines, on a state folder with a shut-off domain "vm" whose disk is a qcow2 image.
 */
class ShellTest {
    @TempDir
    Path dir;

    @BeforeEach
    void home() throws IOException {
        Cli.defineOneDiskVm(dir);
    }

    @AfterEach
    void noHome() {
        System.clearProperty("vmsnap.home");
    }

    private static String names() {
        Cli.Run r = Cli.run("snapshot-list", "vm", "--name");
        assertThat(r.exitCode()).as(r.err()).isZero();
        return r.out();
    }

    @Test
    void aCommandStringRunsItsCommandsInOrderAndPrintsWhatEachPrintsAlone() {
        Cli.Run r = Cli.run("snapshot-create-as vm \"a b\" 'the; description'; snapshot-list vm --name");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.err()).isEmpty();
        assertThat(r.out()).isEqualTo("Domain snapshot a b created\na b\n\n");
        assertThat(Cli.run("snapshot-dumpxml", "vm", "a b").out()).contains("<description>the; description<");

        Cli.Run two = Cli.run("snapshot-list vm\ndomblklist vm");
        assertThat(two.exitCode()).isZero();
        assertThat(two.out()).isEqualTo(Cli.run("snapshot-list", "vm").out() + Cli.run("domblklist", "vm").out());
    }

    @Test
    void anErrorWhileACommandRunsDoesNotStopTheNextAndTheStatusIsTheLastCommands() {
        Cli.Run r = Cli.run("snapshot-info vm nosuch; snapshot-create-as vm s1; snapshot-list vm --name");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.err().lines().toList()).singleElement().asString().startsWith("vmsnap: ").contains("nosuch");
        assertThat(r.out()).endsWith("Domain snapshot s1 created\ns1\n\n");

        Cli.Run last = Cli.run("snapshot-list vm --name; snapshot-info vm nosuch");
        assertThat(last.exitCode()).isEqualTo(1);
        assertThat(last.out()).startsWith("s1\n");
    }

    @Test
    void aUsageErrorAnywhereRunsNothingOfTheString() {
        // virsh parses the whole string first: a typo in the second command must not leave the
        // first one done.
        Cli.Run r = Cli.run("snapshot-create-as vm s2; snapshot-list vm --bogus");
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.out()).isEmpty();
        assertThat(r.err()).isEqualTo("vmsnap: command 'snapshot-list' doesn't support option --bogus\n");
        Cli.Run typo = Cli.run("snapshot-create-as vm s2; snapshot-lst vm");
        assertThat(typo.err()).startsWith("vmsnap: unknown command: 'snapshot-lst'\n");
        Cli.Run quote = Cli.run("snapshot-create-as vm s2; snapshot-list \"vm");
        assertThat(quote.err()).startsWith("vmsnap: missing \"");
        assertThat(quote.exitCode()).isEqualTo(1);
        assertThat(names()).doesNotContain("s2");
    }

    @Test
    void optionsOfOneCommandDoNotReachTheNext() {
        assertThat(Cli.run("snapshot-create-as", "vm", "s1").exitCode()).isZero();
        Cli.Run r = Cli.run("snapshot-list vm --name --from s1; snapshot-list vm; snapshot-list vm --name");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).isEqualTo(Cli.run("snapshot-list", "vm", "--name", "--from", "s1").out()
                + Cli.run("snapshot-list", "vm").out() + names());
        // --debug too: a stack trace for the first command only.
        Path none = dir.resolve("none.qcow2");
        Cli.Run debug = Cli.run("img info --debug " + none + "; img info " + none);
        List<String> lines = debug.err().lines().toList();
        String error = "vmsnap: Could not open '" + none + "': No such file or directory";
        assertThat(lines.getFirst()).contains("NoSuchFileException");
        assertThat(lines.subList(lines.size() - 2, lines.size())).containsExactly(error, error);
        assertThat(lines.subList(0, lines.size() - 2)).allMatch(l -> !l.startsWith("vmsnap: "));
        // --debug before the string is every command's.
        Cli.Run both = Cli.run("--debug", "img info " + none + "; img info " + none);
        assertThat(both.err().split("NoSuchFileException", -1)).hasSizeGreaterThan(2);
    }

    @Test
    void oneWordOfACommandWithBlanksIsStillOneWord() throws IOException {
        Path spaced = dir.resolve("my file.qcow2");
        assertThat(Cli.run("img", "create", "-q", "-f", "qcow2", spaced.toString(), "1M").exitCode()).isZero();
        Cli.Run r = Cli.run("img", "info", spaced.toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).startsWith("image: " + spaced + "\n");
        Cli.Run quoted = Cli.run("img info '" + spaced + "'");
        assertThat(quoted.out()).isEqualTo(r.out());
        // A lone argument without a blank or ';' is a command's name, as before.
        assertThat(Cli.run("snapshot-lst").err()).startsWith("vmsnap: unknown command: 'snapshot-lst'");
    }

    @Test
    void twoErrorsOfOneCommandAreTwoLinesInAStringToo() {
        Cli.Run r = Cli.run("list; snapshot-info --bogus");
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).isEqualTo("vmsnap: command 'snapshot-info' doesn't support option --bogus\n"
                + "vmsnap: command 'snapshot-info' requires <domain> option\n");
    }

    /** Lines handed to the shell one by one; the prompts it showed are kept. */
    private static final class Typed implements Shell.Lines {
        final List<String> prompts = new ArrayList<>();
        final Iterator<String> lines;
        int read;

        Typed(String... lines) {
            this.lines = List.of(lines).iterator();
        }

        @Override
        public String read(String prompt) {
            prompts.add(prompt);
            if (!lines.hasNext()) {
                return null;
            }
            read++;
            return lines.next();
        }
    }

    private record Session(int status, String out, String err) {
    }

    private static Session shell(Typed typed, boolean interactive) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = new Shell(new PrintWriter(out), new PrintWriter(err), false).run(typed, interactive);
        return new Session(status, out.toString(), err.toString());
    }

    @Test
    void theShellGreetsPromptsKeepsHistoryAndStopsAtQuit() {
        Typed typed = new Typed("help", "snapshot-create-as vm 'x y'", "", "bogus", "history", "help history",
                "quit", "snapshot-create-as vm never");
        Session s = shell(typed, true);
        assertThat(s.status()).as("the last command's: history").isZero();
        assertThat(typed.read).as("nothing read after quit").isEqualTo(7);
        assertThat(typed.prompts).hasSize(7).containsOnly(Shell.PROMPT);
        assertThat(s.out()).startsWith("Welcome to vmsnap").contains("'quit' to quit")
                .contains(" Snapshot (help keyword 'snapshot'):", " Shell, with 'vmsnap' alone")
                .contains("    quit                           Leave the shell")
                .contains("Domain snapshot x y created\n")
                .contains("    1  help\n    2  snapshot-create-as vm 'x y'\n    3  bogus\n    4  history\n")
                .endsWith("Usage: history\nList the lines read in this shell, numbered (Up and Down recall them"
                        + " at the prompt).\n");
        assertThat(s.err()).isEqualTo("vmsnap: unknown command: 'bogus'\n");
        assertThat(names()).isEqualTo("x y\n\n");
    }

    @Test
    void theEndOfInputEndsTheShellWithTheLastStatus() {
        Session s = shell(new Typed("snapshot-list vm --name", "snapshot-info vm nosuch"), true);
        assertThat(s.status()).isEqualTo(1);
        assertThat(s.out()).endsWith("\n\n\n"); // virsh's newline after a failed command, then one at Ctrl-D
        Session empty = shell(new Typed(), true);
        assertThat(empty.status()).isZero();
    }

    @Test
    void readingStandardInputHasNoGreetingNorPrompt() {
        Typed typed = new Typed("snapshot-create-as vm s1; snapshot-list vm --name", "exit");
        Session s = shell(typed, false);
        assertThat(s.status()).isZero();
        assertThat(s.out()).isEqualTo("Domain snapshot s1 created\ns1\n\n");
        assertThat(typed.prompts).containsOnly("");
    }

    @Test
    void helpInsideTheShellAndTheShellsOwnCommandsMistyped() {
        Session s = shell(new Typed("snapshot-list --help", "quit --help", "help quit", "help shell", "history 3",
                "quit now", "exit --force", "--help"), false);
        assertThat(s.out()).startsWith("Usage: vmsnap snapshot-list").contains("Usage: quit\nLeave the shell")
                .contains(" Shell, with 'vmsnap' alone").contains("Usage: vmsnap [");
        assertThat(s.err()).isEqualTo("vmsnap: unexpected data '3'\nvmsnap: unexpected data 'now'\n"
                + "vmsnap: command 'exit' doesn't support option --force\n");
        assertThat(s.status()).isZero();
    }

    @Command(name = "boom")
    static final class Boom implements Callable<Integer> {
        @Override
        public Integer call() {
            throw new StackOverflowError();
        }
    }

    @Test
    void aCommandThatThrowsAnErrorEndsThatCommandNotTheShell() {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        Shell shell = new Shell(new PrintWriter(out), new PrintWriter(err), false);
        CommandLine boom = new CommandLine(new Boom());
        Main.Parsed parsed = new Main.Parsed(boom, new String[0], boom.parseArgs());
        assertThat(shell.execute(parsed)).isEqualTo(1);
        assertThat(err.toString()).isEqualTo("vmsnap: java.lang.StackOverflowError\n");
        assertThat(shell.runLine("snapshot-list vm --name")).isZero();
    }
}
