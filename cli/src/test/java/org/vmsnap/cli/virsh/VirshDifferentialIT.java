package org.vmsnap.cli.virsh;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.cli.Cli;
import org.vmsnap.cli.QemuImg;

/**
 * The same virsh command sequence through libvirt's test driver and through vmsnap on a real
 * qcow2 image: internal snapshots of a shut-off domain, a branching tree made by revert, deletes
 * of a leaf, a non-leaf, with --children and --children-only, and changes of the current
 * snapshot. Every command must print the same stdout (creation times masked), fail alike, and
 * say the same error text (after "vmsnap: " instead of "error: ").
 */
class VirshDifferentialIT {
    private static final String TIME = "\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d [+-]\\d{4}";

    @TempDir
    Path dir;

    private final List<List<String>> commands = new ArrayList<>();

    /** Every difference of a sequence is reported, not only the first. */
    private final SoftAssertions soft = new SoftAssertions();

    @BeforeEach
    void home() {
        System.setProperty("vmsnap.home", dir.resolve("home").toString());
    }

    @AfterEach
    void noHome() {
        System.clearProperty("vmsnap.home");
    }

    private void c(String... args) {
        commands.add(List.of(args));
    }

    /**
     * Defines vmsnap's "test" from the test driver's own definition, its disk replaced by a
     * 64 MiB qcow2 image, so both sides hold the same domain.
     */
    private Path defineTestDomain() throws IOException, InterruptedException {
        Path disk = dir.resolve("disk.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", disk.toString(), "64M");
        String xml = Virsh.session(List.of(List.of("dumpxml", "test"))).getFirst().out().strip();
        assertThat(xml).contains("<source file='/guest/diskimage1'/>");
        xml = xml.replace("<source file='/guest/diskimage1'/>",
                "<driver name='qemu' type='qcow2'/>\n        <source file='" + disk + "'/>");
        Path file = dir.resolve("test.xml");
        Files.writeString(file, xml);
        Cli.Run r = Cli.run("define", file.toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).isEqualTo("Domain 'test' defined from " + file + "\n\n");
        return disk;
    }

    @Test
    void snapshotTreeLikeVirsh() throws IOException, InterruptedException {
        Path disk = defineTestDomain();
        c("snapshot-list", "test");
        c("snapshot-current", "test");
        c("snapshot-info", "test", "--current");
        c("snapshot-create-as", "test", "s1", "first one");
        c("snapshot-create-as", "test", "s2");
        c("snapshot-current", "test", "--name");
        c("snapshot-revert", "test", "s1");
        c("snapshot-create-as", "test", "s3");
        c("snapshot-create-as", "test", "--name", "s4", "--description", "four");
        c("snapshot-revert", "test", "s3");
        c("snapshot-create-as", "test", "s5");
        c("snapshot-create-as", "test", "s5");
        c("snapshot-list", "test");
        c("snapshot-list", "test", "--parent");
        c("snapshot-list", "test", "--tree");
        c("snapshot-list", "test", "--topological", "--tree");
        c("snapshot-list", "test", "--leaves", "--name");
        c("snapshot-list", "test", "--roots");
        c("snapshot-list", "test", "--from", "s1", "--descendants", "--parent");
        c("snapshot-list", "test", "--current", "--tree");
        c("snapshot-list", "test", "--internal", "--inactive", "--name");
        c("snapshot-list", "test", "--external", "--name");
        c("snapshot-info", "test", "s1");
        c("snapshot-info", "test", "--current");
        c("snapshot-info", "test", "s3", "--current");
        c("snapshot-info", "test");
        c("snapshot-parent", "test", "s4");
        c("snapshot-parent", "test", "--current");
        c("snapshot-parent", "test", "s1");
        c("snapshot-current", "test", "s2");
        c("snapshot-current", "test", "--name");
        c("snapshot-current", "test", "--name", "s3");
        c("snapshot-current", "test", "nope");
        c("snapshot-info", "test", "s2");
        c("snapshot-delete", "test", "s2");
        c("snapshot-current", "test", "--name");
        c("snapshot-delete", "test", "s3");
        c("snapshot-list", "test", "--tree");
        c("snapshot-list", "test", "--parent");
        c("snapshot-create-as", "test", "s6");
        c("snapshot-list", "test", "--tree");
        c("snapshot-delete", "test", "s1", "--children-only");
        c("snapshot-list", "test", "--tree");
        c("snapshot-info", "test", "s1");
        c("snapshot-create-as", "test", "s7");
        c("snapshot-create-as", "test", "s8");
        c("snapshot-revert", "test", "s7");
        c("snapshot-delete", "test", "--current", "--children");
        c("snapshot-current", "test", "--name");
        c("snapshot-revert", "test", "--current");
        c("snapshot-delete", "test", "nope");
        c("snapshot-delete", "test");
        c("snapshot-delete", "test", "s1", "--children", "--children-only");
        c("snapshot-delete", "test", "s1");
        c("snapshot-list", "test");
        c("snapshot-list", "test", "--tree");
        c("snapshot-current", "test");
        compare();
        Cli.Run check = QemuImg.run("check", disk.toString());
        assertThat(check.exitCode()).as(check.out() + check.err()).isZero();
        assertThat(QemuImg.ok("snapshot", "-l", disk.toString())).as("every internal snapshot deleted").isEmpty();
    }

    @Test
    void namesThatBeginWithADashLikeVirsh() throws IOException, InterruptedException {
        defineTestDomain();
        c("snapshot-create-as", "test", "--", "-x");
        c("snapshot-create-as", "test", "--name", "-y");
        c("snapshot-create-as", "test", "-z", "--", "--desc");
        c("snapshot-create-as", "test", "--name", "--print-xml");
        c("snapshot-list", "test", "--name");
        c("snapshot-info", "test", "--", "-x");
        c("snapshot-info", "test", "-z");
        c("snapshot-current", "test", "--name");
        c("snapshot-revert", "test", "-x");
        c("snapshot-current", "test", "--name");
        c("snapshot-parent", "test", "--", "-y");
        c("snapshot-delete", "test", "--", "-y");
        c("snapshot-delete", "test", "--", "--print-xml");
        c("snapshot-list", "test", "--tree");
        compare();
    }

    @Test
    void usageErrorsLikeVirsh() throws IOException, InterruptedException {
        for (List<String> cmd : List.of(List.of("snapshot-list", "test", "--bogus"),
                List.of("snapshot-delete", "test", "--print-xml"), List.of("snapshot-list", "test", "--name", "--name"),
                List.of("snapshot-info"), List.of("snapshot-info", "test", "-x", "more"))) {
            assertSameRun(cmd, Virsh.once(cmd), Cli.run(cmd.toArray(String[]::new)), "");
        }
        soft.assertAll();
        // An unknown command: virsh's line, then the nearest names.
        for (List<String> cmd : List.of(List.of("snapshot-lst", "test"), List.of("help", "snapshot-lst"))) {
            Cli.Run virsh = Virsh.once(cmd);
            Cli.Run ours = Cli.run(cmd.toArray(String[]::new));
            assertThat(ours.exitCode()).isEqualTo(virsh.exitCode()).isEqualTo(1);
            assertThat(ours.err()).startsWith("vmsnap: " + Virsh.oneLine(virsh.err()) + "\n")
                    .endsWith("\n\tsnapshot-list\n");
        }
    }

    @Test
    void domainVerbsLikeVirsh() throws IOException, InterruptedException {
        defineTestDomain();
        c("list", "--all");
        c("list", "--all", "--name");
        c("domblklist", "test");
        c("domblklist", "test", "--details");
        c("snapshot-create-as", "test", "s1");
        c("undefine", "test");
        c("snapshot-list", "test", "--name");
        c("undefine", "test", "--snapshots-metadata");
        c("snapshot-list", "test");
        c("list", "--all");
        // virsh's own domain is running until destroyed; vmsnap's are always shut off.
        List<List<String>> virshCommands = new ArrayList<>();
        virshCommands.add(List.of("destroy", "test"));
        virshCommands.addAll(commands);
        List<Cli.Run> virsh = Virsh.session(virshCommands).subList(1, virshCommands.size());
        for (int i = 0; i < commands.size(); i++) {
            List<String> cmd = commands.get(i);
            Cli.Run ours = Cli.run(cmd.toArray(String[]::new));
            String expectedOut = virsh.get(i).out();
            if (cmd.getFirst().equals("domblklist")) {
                expectedOut = expectedOut.replace("/guest/diskimage1", dir.resolve("disk.qcow2").toString());
                // the widths follow the longer path
                expectedOut = relayout(expectedOut);
            }
            assertSameRun(cmd, virsh.get(i), ours, expectedOut);
        }
        soft.assertAll();
    }

    /** Re-renders a virsh table with the same cells, so that a longer path widens it as virsh would. */
    private static String relayout(String table) {
        List<String> lines = table.lines().toList();
        VshTable t = new VshTable(lines.getFirst().strip().split("\\s{3,}"));
        for (String l : lines.subList(2, lines.size())) {
            if (!l.isBlank()) {
                t.row(l.strip().split("\\s{3,}"));
            }
        }
        return t.render() + "\n";
    }

    private void compare() throws IOException, InterruptedException {
        List<List<String>> virshCommands = new ArrayList<>();
        virshCommands.add(List.of("destroy", "test"));
        virshCommands.addAll(commands);
        List<Cli.Run> virsh = Virsh.session(virshCommands).subList(1, virshCommands.size());
        for (int i = 0; i < commands.size(); i++) {
            List<String> cmd = commands.get(i);
            Cli.Run ours = Cli.run(cmd.toArray(String[]::new));
            assertSameRun(cmd, virsh.get(i), ours, virsh.get(i).out());
        }
        soft.assertAll();
    }

    private void assertSameRun(List<String> cmd, Cli.Run virsh, Cli.Run ours, String expectedOut) {
        String what = String.join(" ", cmd);
        soft.assertThat(mask(ours.out())).as("stdout of %s (vmsnap stderr: %s)", what, ours.err())
                .isEqualTo(mask(expectedOut));
        soft.assertThat(ours.exitCode()).as("exit code of %s (vmsnap stderr: %s, virsh: %s)", what, ours.err(),
                virsh.err()).isEqualTo(virsh.exitCode());
        if (virsh.exitCode() != 0) {
            soft.assertThat(ours.err()).as("error of %s", what)
                    .isEqualTo("vmsnap: " + Virsh.oneLine(virsh.err()) + "\n");
        }
    }

    private static String mask(String s) {
        return s.replaceAll(TIME, "<time>");
    }
}
