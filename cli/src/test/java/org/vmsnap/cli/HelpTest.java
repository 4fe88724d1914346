package org.vmsnap.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Help everywhere: every command answers --help (and "help COMMAND") on stdout with exit 0,
 * its synopsis, every option and an example; "help" lists the commands by group as virsh does;
 * "img --help" lists the verbs' syntax as qemu-img --help does; the completion script is bash.
 */
class HelpTest {

    @TempDir
    Path dir;

    /** Every command a user can run, as words after "vmsnap" ("img info"). */
    private static List<String> commands() {
        CommandLine root = Main.commandLine(new PrintWriter(new StringWriter()), new PrintWriter(new StringWriter()),
                false);
        List<String> all = new ArrayList<>();
        HelpCommand.visible(root.getSubcommands()).forEach((name, cmd) -> {
            all.add(name);
            HelpCommand.visible(cmd.getSubcommands()).keySet().forEach(verb -> all.add(name + " " + verb));
        });
        return all;
    }

    private static CommandLine command(String words) {
        CommandLine cmd = Main.commandLine(new PrintWriter(new StringWriter()), new PrintWriter(new StringWriter()),
                false);
        for (String w : words.split(" ")) {
            cmd = cmd.getSubcommands().get(w);
        }
        return cmd;
    }

    @Test
    void everyCommandAnswersHelpWithSynopsisOptionsAndAnExample() {
        List<String> commands = commands();
        assertThat(commands).contains("snapshot-create-as", "list", "img", "img create", "help", "generate-completion");
        for (String c : commands) {
            List<String> args = new ArrayList<>(List.of(c.split(" ")));
            args.add("--help");
            Cli.Run r = Cli.run(args.toArray(String[]::new));
            assertThat(r.exitCode()).as("vmsnap %s --help: %s", c, r.err()).isZero();
            assertThat(r.err()).as(c).isEmpty();
            assertThat(r.out()).as(c).containsIgnoringCase("usage: vmsnap " + c);
            if (!c.equals("img")) {
                String examples = r.out().substring(r.out().indexOf("\nExamples:\n") + 1);
                assertThat(examples).as(c).startsWith("Examples:\n").contains("vmsnap " + c);
            }
            for (OptionSpec o : command(c).getCommandSpec().options()) {
                assertThat(r.out()).as("%s --help lists %s", c, o.longestName()).contains(o.longestName());
            }
            Cli.Run viaHelp = Cli.run(Differential.prepend("help", c.split(" ")));
            assertThat(viaHelp.out()).as("vmsnap help %s", c).isEqualTo(r.out());
            assertThat(viaHelp.exitCode()).isZero();
        }
    }

    @Test
    void helpOfAVerbNeedsNoneOfItsArguments() {
        // Before: "Missing required parameter: 'DOMAIN'", "Unknown option: '--help'".
        for (String[] args : new String[][] {{"snapshot-create-as", "--help"}, {"list", "--help"},
                {"img", "create", "--help"}, {"img", "info", "-h"}, {"snapshot-revert", "vm1", "--help"}}) {
            Cli.Run r = Cli.run(args);
            assertThat(r.exitCode()).as("%s: %s", List.of(args), r.err()).isZero();
            assertThat(r.out()).startsWith("Usage: vmsnap " + args[0]);
        }
    }

    @Test
    void helpListsEveryCommandInOneGroupAsVirshDoes() {
        Cli.Run r = Cli.run("help");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).startsWith("Grouped commands:\n\n Domain Management (help keyword 'domain'):\n"
                + "    attach   ");
        for (String c : commands()) {
            long lines = r.out().lines().filter(l -> l.startsWith(String.format("    %-30s ", c))).count();
            assertThat(lines).as("%s listed once", c).isEqualTo(1);
        }
        Cli.Run group = Cli.run("help", "snapshot");
        assertThat(group.out()).startsWith(" Snapshot (help keyword 'snapshot'):\n    snapshot-create ")
                .endsWith("\n\n").doesNotContain("Domain Management");
        assertThat(r.out()).contains(group.out());
    }

    @Test
    void helpOfAnUnknownNameSaysSoWithTheNearestNames() {
        Cli.Run r = Cli.run("help", "snapshot-lst");
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.out()).isEmpty();
        assertThat(r.err()).isEqualTo("vmsnap: command or command group 'snapshot-lst' doesn't exist\n"
                + "\nThe most similar command is\n\tsnapshot-list\n");
        assertThat(Cli.run("img", "help", "infoo").err()).startsWith(
                "vmsnap: command or command group 'img infoo' doesn't exist\n").contains("\timg info\n");
    }

    @Test
    void imgHelpListsTheVerbsAsQemuImgHelpDoes() {
        Cli.Run r = Cli.run("img", "--help");
        assertThat(r.exitCode()).isZero();
        List<String> lines = r.out().lines().toList();
        assertThat(lines.getFirst()).matches("vmsnap img version \\S+");
        assertThat(lines.get(1)).isEqualTo("usage: vmsnap img [standard options] command [command options]");
        int syntax = lines.indexOf("Command syntax:");
        assertThat(syntax).isPositive();
        // qemu-img's order, one line per verb, as the verb's own synopsis says it.
        List<String> verbs = List.of("check", "commit", "compare", "convert", "create", "info", "map", "snapshot",
                "rebase", "resize");
        for (int i = 0; i < verbs.size(); i++) {
            String line = lines.get(syntax + 1 + i);
            assertThat(line).startsWith("  " + verbs.get(i) + " ");
            String own = String.join(" ", command("img " + verbs.get(i)).getCommandSpec().usageMessage()
                    .customSynopsis()).replaceAll("\\s+", " ");
            assertThat("vmsnap img " + line.strip()).isEqualTo(own);
        }
        assertThat(r.out()).contains("Command parameters:\n  'filename' is a disk image filename\n");
        assertThat(Cli.run("help", "img").out()).isEqualTo(r.out());
        assertThat(Cli.run("img", "help").out()).isEqualTo(r.out());
    }

    @Test
    void everyImgOptionIsInTheVerbsSynopsis() {
        // The img synopses are written as qemu-img writes them; none may miss an option.
        for (Map.Entry<String, CommandLine> verb : command("img").getSubcommands().entrySet()) {
            String synopsis = String.join(" ", verb.getValue().getCommandSpec().usageMessage().customSynopsis());
            for (OptionSpec o : verb.getValue().getCommandSpec().options()) {
                if (o.inherited()) {
                    continue; // --debug, --help: vmsnap's, not the verb's
                }
                assertThat(List.of(o.names())).as("img %s synopsis: %s", verb.getKey(), synopsis)
                        .anyMatch(n -> synopsis.matches(".*[\\[ |]" + java.util.regex.Pattern.quote(n) + "[ =\\]].*"));
            }
        }
    }

    @Test
    void versionsInQemuImgStyle() {
        assertThat(Cli.run("--version").out()).matches("vmsnap version \\d+\\.\\d+\\.\\d+(-SNAPSHOT)?\n");
        String img = Cli.run("img", "--version").out();
        assertThat(img).matches("vmsnap img version \\d+\\.\\d+\\.\\d+(-SNAPSHOT)?\n");
        assertThat(Cli.run("img", "-V").out()).isEqualTo(img);
    }

    @Test
    void completionIsBashThatCompletesCommandsAndOptions() throws IOException, InterruptedException {
        Cli.Run r = Cli.run("generate-completion");
        assertThat(r.exitCode()).as(r.err()).isZero();
        Path script = Files.writeString(dir.resolve("vmsnap.bash"), r.out());
        assertThat(bash("bash", "-n", script.toString())).as("bash -n").isEmpty();
        assertThat(r.out()).doesNotContain("aot-training");
        // Complete "vmsnap snapshot-l<TAB>" and "vmsnap img info --back<TAB>" as bash would.
        String complete = "source " + script + "; COMP_WORDS=(%s); COMP_CWORD=%d; COMP_LINE=\"${COMP_WORDS[*]}\";"
                + " COMP_POINT=${#COMP_LINE}; _complete_vmsnap 2>/dev/null; echo \"${COMPREPLY[@]}\"";
        assertThat(bash("bash", "-c", complete.formatted("vmsnap snapshot-l", 1)).strip())
                .isEqualTo("snapshot-list");
        assertThat(bash("bash", "-c", complete.formatted("vmsnap img info --back", 3)).strip())
                .isEqualTo("--backing-chain");
    }

    private static String bash(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        return out;
    }
}
