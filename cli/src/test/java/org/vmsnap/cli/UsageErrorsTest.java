package org.vmsnap.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

import org.junit.jupiter.api.Test;

/**
 * Mistyped commands and options: one error line naming the command (and the option), then the
 * nearest names as git prints them, exit code 1, nothing on stdout.
 */
class UsageErrorsTest {

    private static void fails(Cli.Run r, String expected) {
        assertThat(r.exitCode()).as(r.err()).isEqualTo(1);
        assertThat(r.out()).isEmpty();
        assertThat(r.err()).isEqualTo(expected);
    }

    @Test
    void anUnknownCommandIsNamedWithTheNearestCommands() {
        // Before: "Unmatched arguments from index 0: 'snapshot-lst', 'w1'".
        fails(Cli.run("snapshot-lst", "w1"),
                "vmsnap: unknown command: 'snapshot-lst'\n\nThe most similar command is\n\tsnapshot-list\n");
        fails(Cli.run("img", "infoo", "x.qcow2"),
                "vmsnap: unknown command: 'img infoo'\n\nThe most similar command is\n\timg info\n");
        fails(Cli.run("convert", "a", "b"),
                "vmsnap: unknown command: 'convert'\n\nThe most similar command is\n\timg convert\n");
        fails(Cli.run("snapshot-revrt", "vm"),
                "vmsnap: unknown command: 'snapshot-revrt'\n\nThe most similar command is\n\tsnapshot-revert\n");
        fails(Cli.run("frobnicate"), "vmsnap: unknown command: 'frobnicate'\n");
    }

    @Test
    void aPrefixListsEveryCommandItBegins() {
        Cli.Run r = Cli.run("snapshot-cr", "vm");
        assertThat(r.err()).isEqualTo("vmsnap: unknown command: 'snapshot-cr'\n\nThe most similar commands are\n"
                + "\tsnapshot-create\n\tsnapshot-create-as\n");
    }

    @Test
    void anUnknownOptionNamesTheOptionAndTheCommand() {
        fails(Cli.run("snapshot-list", "vm", "--bogus"),
                "vmsnap: command 'snapshot-list' doesn't support option --bogus\n");
        fails(Cli.run("snapshot-list", "vm", "--tre"),
                "vmsnap: command 'snapshot-list' doesn't support option --tre\n"
                        + "\nThe most similar option is\n\t--tree\n");
        fails(Cli.run("img", "info", "--backing-chian", "x"), "vmsnap: img info: unrecognized option"
                + " '--backing-chian'\n\nThe most similar option is\n\t--backing-chain\n");
        fails(Cli.run("img", "create", "-z", "x", "1M"), "vmsnap: img create: unrecognized option '-z'\n");
        fails(Cli.run("--bogus"), "vmsnap: unrecognized option '--bogus'\n");
    }

    @Test
    void otherUsageErrorsAreVirshsOrNameTheCommand() {
        fails(Cli.run("snapshot-info"), "vmsnap: command 'snapshot-info' requires <domain> option\n");
        fails(Cli.run("snapshot-info", "vm", "a", "b"), "vmsnap: unexpected data 'b'\n");
        fails(Cli.run("snapshot-list", "vm", "--from", "a", "--from", "b"), "vmsnap: option --from already seen\n");
        Cli.Run extra = Cli.run("img", "info", "a", "b");
        assertThat(extra.err()).isEqualTo("vmsnap: img info: unexpected argument 'b' (see 'vmsnap img info --help')\n");
        Cli.Run none = Cli.run();
        assertThat(none.exitCode()).isEqualTo(1);
        assertThat(none.err().lines()).hasSize(1);
    }

    @Test
    void suggestionsAreNearestByEditsOrByPrefix() {
        List<String> names = List.of("snapshot-list", "snapshot-info", "list", "img info", "img snapshot");
        assertThat(Suggestions.nearest("snapshot-lsit", names)).containsExactly("snapshot-list");
        assertThat(Suggestions.nearest("lst", names)).containsExactly("list");
        assertThat(Suggestions.nearest("INFO", names)).containsExactly("img info");
        assertThat(Suggestions.nearest("snap", names))
                .containsExactly("snapshot-list", "snapshot-info", "img snapshot");
        assertThat(Suggestions.nearest("xyzzy", names)).isEmpty();
        assertThat(Suggestions.distance("ab", "ba")).isEqualTo(1);
    }

    @Test
    void afterTheEndOfOptionsAWordThatLooksLikeAnOptionIsData() {
        fails(Cli.run("snapshot-create-as", "--", "vm", "name", "description", "--quiesce"),
                "vmsnap: unexpected data '--quiesce'\n");
    }

    @Test
    void twoErrorsOfOneCommandAreTwoLines() {
        // Before: both of picocli's messages joined on one line.
        Cli.Run r = Cli.run("img", "info", "--bogus");
        assertThat(r.exitCode()).as(r.err()).isEqualTo(1);
        assertThat(r.out()).isEmpty();
        List<String> lines = r.err().lines().toList();
        assertThat(lines).as(r.err()).containsExactly("vmsnap: img info: unrecognized option '--bogus'",
                "vmsnap: img info: Missing required parameter: 'filename'");
        fails(Cli.run("snapshot-info", "--bogus"), "vmsnap: command 'snapshot-info' doesn't support option --bogus\n"
                + "vmsnap: command 'snapshot-info' requires <domain> option\n");
    }
}
