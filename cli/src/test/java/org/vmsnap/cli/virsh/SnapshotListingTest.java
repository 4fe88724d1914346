package org.vmsnap.cli.virsh;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.vmsnap.manager.SnapshotTree;

import picocli.CommandLine;

/**
 * snapshot-list's selection, order, table, names and tree against what virsh 9.0 printed for the
 * same snapshot tree (libvirt's test driver, fixtures from make-fixtures.sh): byte for byte,
 * errors by their message.
 */
class SnapshotListingTest {

    static List<Fixtures.Case> cases() {
        return Fixtures.cases("list-cases.txt", "list");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void likeVirsh(Fixtures.Case c) throws IOException {
        SnapshotTree tree = Fixtures.tree();
        SnapshotListCommand cmd = new SnapshotListCommand();
        List<String> args = new ArrayList<>(List.of("test"));
        args.addAll(c.args());
        new CommandLine(cmd).parseArgs(args.toArray(String[]::new));
        if (c.err() != null) {
            assertThatThrownBy(() -> SnapshotListing.render(tree, cmd.options(), ZoneOffset.UTC))
                    .hasMessage(c.err());
            assertThat(c.out()).as("virsh's stdout after an error").isEqualTo("\n");
        } else {
            // virsh ends every command's output with a newline.
            assertThat(SnapshotListing.render(tree, cmd.options(), ZoneOffset.UTC) + "\n").isEqualTo(c.out());
        }
    }
}
