package org.vmsnap.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.vmsnap.cli.img.ImgCommand;
import org.vmsnap.cli.virsh.SnapshotListCommand;

import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/** Main builds only the command being run, and that command is the same as in the full tree. */
class CommandPathTest {

    @Test
    void aKnownCommandIsBuiltAloneAndAnythingElseBuildsAll() {
        assertThat(Main.commandPath("--version")).isEmpty();
        assertThat(Main.commandPath("snapshot-list", "vm")).containsExactly(SnapshotListCommand.class);
        assertThat(Main.commandPath("--debug", "snapshot-list")).containsExactly(SnapshotListCommand.class);
        assertThat(Main.commandPath("img", "info", "x")).containsExactly(ImgCommand.class, ImgCommand.VERBS.get(1));
        assertThat(ImgCommand.VERBS.get(1).getSimpleName()).isEqualTo("InfoCommand");
        // Help and completion list every command; a mistyped word is answered with the nearest of all.
        for (String[] all : List.of(new String[] {}, new String[] {"help"}, new String[] {"-h", "list"},
                new String[] {"generate-completion"}, new String[] {"snapshot-lst"}, new String[] {"img"},
                new String[] {"img", "inf", "x"}, new String[] {"img", "--help"}, new String[] {"--version", "x"},
                new String[] {"aot-training"}, new String[] {"--", "list"})) {
            assertThat(Main.commandPath(all)).as(String.join(" ", all)).isNull();
        }
    }

    @Test
    void everyCommandBuiltAloneHasTheOptionsAndSettingsItHasInTheFullTree() {
        CommandLine full = Main.commandLine(sink(), sink(), false);
        List<String[]> lines = new ArrayList<>();
        full.getSubcommands().forEach((name, sub) -> {
            if (name.equals("img")) {
                sub.getSubcommands().keySet().forEach(verb -> lines.add(new String[] {"img", verb}));
            } else {
                lines.add(new String[] {name});
            }
        });
        assertThat(lines).hasSizeGreaterThan(40);
        int fast = 0;
        for (String[] words : lines) {
            List<Class<?>> path = Main.commandPath(words);
            if (path == null) {
                continue;
            }
            fast++;
            CommandLine alone = Main.commandLine(sink(), sink(), false, path);
            CommandLine one = alone;
            CommandLine whole = full;
            for (String word : words) {
                one = one.getSubcommands().get(word);
                whole = whole.getSubcommands().get(word);
            }
            assertThat(describe(one)).as(String.join(" ", words)).isEqualTo(describe(whole));
            assertThat(one.getUsageMessage()).as(String.join(" ", words)).isEqualTo(whole.getUsageMessage());
        }
        assertThat(fast).isEqualTo(lines.size() - 3);
    }

    private static String describe(CommandLine cmd) {
        CommandSpec spec = cmd.getCommandSpec();
        StringBuilder b = new StringBuilder(spec.qualifiedName(" "));
        for (OptionSpec o : spec.options()) {
            b.append(' ').append(String.join("|", o.names())).append(o.inherited() ? "(inherited)" : "");
        }
        b.append(" allowOptionsAsParameters=").append(spec.parser().allowOptionsAsOptionParameters())
                .append(" unmatchedOptionsArePositional=").append(spec.parser().unmatchedOptionsArePositionalParams());
        return b.toString();
    }

    private static PrintWriter sink() {
        return new PrintWriter(new StringWriter());
    }

    @Test
    void aBareVersionPrintsWhatPicocliPrintsWithoutBuildingTheModel() {
        for (String word : List.of("--version", "-V")) {
            StringWriter fast = new StringWriter();
            StringWriter fastErr = new StringWriter();
            assertThat(Main.run(new PrintWriter(fast), new PrintWriter(fastErr), word)).isZero();
            StringWriter picocli = new StringWriter();
            StringWriter picocliErr = new StringWriter();
            int code = Main.commandLine(new PrintWriter(picocli), new PrintWriter(picocliErr), false, List.of())
                    .execute(word);
            assertThat(code).isZero();
            assertThat(fast.toString()).isEqualTo(picocli.toString()).startsWith("vmsnap version ");
            assertThat(fastErr.toString()).isEqualTo(picocliErr.toString()).isEmpty();
        }
    }
}
