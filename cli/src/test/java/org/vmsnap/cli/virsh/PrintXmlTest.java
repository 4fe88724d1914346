package org.vmsnap.cli.virsh;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import picocli.CommandLine;

/** snapshot-create-as --print-xml and --diskspec parsing against virsh 9.0's output for the same arguments. */
class PrintXmlTest {

    static List<Fixtures.Case> cases() {
        return Fixtures.cases("printxml-cases.txt", "printxml");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void likeVirsh(Fixtures.Case c) {
        SnapshotCreateAsCommand cmd = new SnapshotCreateAsCommand();
        List<String> args = new ArrayList<>(List.of("test", "--print-xml"));
        args.addAll(c.args());
        new CommandLine(cmd).parseArgs(args.toArray(String[]::new));
        if (c.err() != null) {
            assertThatThrownBy(cmd::requestXml).hasMessage(c.err());
        } else {
            // virsh prints the document and a newline, then its newline after every command.
            assertThat(cmd.requestXml() + "\n" + "\n").isEqualTo(c.out());
        }
    }
}
