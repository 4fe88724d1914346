package org.vmsnap.cli.virsh;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.cli.Cli;
import org.vmsnap.qcow2.Qcow2Image;

/**
 * The virsh verbs in process, on what the test driver cannot show: external (disk-only)
 * snapshots, --diskspec, snapshot-edit, --redefine from a file, recover, undefine and the
 * errors vmsnap words itself.
 */
class VirshCommandsTest {
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

    private static Cli.Run ok(String... args) {
        Cli.Run r = Cli.run(args);
        assertThat(r.exitCode()).as("%s: %s", String.join(" ", args), r.err()).isZero();
        return r;
    }

    private static String fails(String... args) {
        Cli.Run r = Cli.run(args);
        assertThat(r.exitCode()).as("%s should fail; printed %s", String.join(" ", args), r.out()).isEqualTo(1);
        assertThat(r.out()).as("virsh's newline after a failed command").isEqualTo("\n");
        return r.err();
    }

    /**
     * A name that is taken: virsh's words before anything else is looked at (even a misplaced
     * --current, or a --diskspec file that exists), and nothing changes.
     */
    @Test
    void aSnapshotNameThatIsTakenIsRefusedFirstAndChangesNothing() throws IOException {
        ok("snapshot-create-as", "vm", "s1", "--disk-only");
        String tree = ok("snapshot-list", "vm", "--tree").out();
        String blk = ok("domblklist", "vm").out();
        String taken = "vmsnap: operation failed: domain moment s1 already exists\n";
        assertThat(fails("snapshot-create-as", "vm", "s1")).isEqualTo(taken);
        assertThat(fails("snapshot-create-as", "vm", "s1", "--disk-only", "--diskspec",
                "vda,file=" + dir.resolve("sys.qcow2"))).isEqualTo(taken);
        Path xml = Files.writeString(dir.resolve("s1.xml"), "<domainsnapshot><name>s1</name></domainsnapshot>\n");
        assertThat(fails("snapshot-create", "vm", xml.toString())).isEqualTo(taken);
        assertThat(fails("snapshot-create", "vm", xml.toString(), "--current")).isEqualTo(taken);
        assertThat(ok("snapshot-list", "vm", "--tree").out()).isEqualTo(tree);
        assertThat(ok("domblklist", "vm").out()).isEqualTo(blk);
    }

    /** snapshot-delete's lookups and their errors, in virsh's words, each changing nothing. */
    @Test
    void snapshotDeleteFindsItsSnapshotByNameOrAsTheCurrentOne() {
        ok("snapshot-create-as", "vm", "a");
        ok("snapshot-create-as", "vm", "b");
        String names = ok("snapshot-list", "vm", "--name").out();
        assertThat(fails("snapshot-delete", "vm", "nosuch"))
                .isEqualTo("vmsnap: Domain snapshot not found: no domain snapshot with matching name 'nosuch'\n");
        assertThat(fails("snapshot-delete", "vm", "b", "--children", "--children-only")).isEqualTo("vmsnap: Failed to"
                + " delete snapshot b: Flags 'VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN' and"
                + " 'VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY' are mutually exclusive\n");
        assertThat(fails("snapshot-delete", "vm")).isEqualTo("vmsnap: --snapshotname or --current is required\n");
        assertThat(fails("snapshot-delete", "vm", "b", "--current"))
                .isEqualTo("vmsnap: --snapshotname and --current are mutually exclusive\n");
        assertThat(ok("snapshot-list", "vm", "--name").out()).isEqualTo(names);
        assertThat(ok("snapshot-delete", "vm", "--current", "--children-only").out())
                .isEqualTo("Domain snapshot b children deleted\n\n");
        assertThat(ok("snapshot-delete", "vm", "--current").out()).isEqualTo("Domain snapshot b deleted\n\n");
        assertThat(ok("snapshot-list", "vm", "--name").out()).isEqualTo("a\n\n");
    }

    /** libvirt's one risky revert vmsnap shares: a managed save image would resume on reverted disks. */
    @Test
    void aDomainWithAManagedSaveImageIsRevertedOnlyWithForceWhichRemovesTheImage() throws IOException {
        ok("snapshot-create-as", "vm", "s1");
        Path managed = dir.resolve("home").resolve("vm").resolve("managed.save");
        Files.writeString(managed, "a managed save image\n");
        assertThat(fails("snapshot-revert", "vm", "s1")).isEqualTo("vmsnap: Failed to revert snapshot s1: revert requires force: snapshot without"
                + " memory state, removal of existing managed saved state strongly recommended to avoid corruption"
                + " (--force removes the managed save image)\n");
        assertThat(managed).exists();
        assertThat(ok("snapshot-revert", "vm", "s1", "--force").out()).isEqualTo("Domain snapshot s1 reverted\n\n");
        assertThat(managed).doesNotExist();
    }

    @Test
    void diskOnlySnapshotIsExternalWithVirshsOverlayName() {
        assertThat(ok("snapshot-create-as", "vm", "e1", "--disk-only").out()).isEqualTo("Domain snapshot e1 created\n");
        assertThat(Files.exists(dir.resolve("sys.e1"))).isTrue();
        assertThat(ok("domblklist", "vm").out()).contains(" vda      " + dir.resolve("sys.e1") + "\n");
        String info = ok("snapshot-info", "vm", "e1").out();
        // libvirt 9.0 says "shutoff" for a disk-only snapshot of a shut-off domain (LibvirtCompareIT)
        assertThat(info).contains("State:          shutoff\n").contains("Location:       external\n")
                .contains("Current:        yes\n");
        assertThat(ok("snapshot-list", "vm", "--external", "--name").out()).isEqualTo("e1\n\n");
        assertThat(ok("snapshot-list", "vm", "--internal", "--name").out()).isEqualTo("\n");
        assertThat(ok("snapshot-dumpxml", "vm", "e1").out()).contains("<disk name='vda' snapshot='external'")
                .endsWith("</domainsnapshot>\n\n");
    }

    @Test
    void namesThatBeginWithADashWorkEndToEnd() throws IOException {
        // As virsh reads words: "-x" is data, "--" ends the options, an option's value is the next word.
        ok("snapshot-create-as", "vm", "-x");
        ok("snapshot-create-as", "vm", "--disk-only", "--", "-e");
        ok("snapshot-create-as", "vm", "--name", "--i");
        assertThat(Files.exists(dir.resolve("sys.-e"))).as("the overlay of the external snapshot").isTrue();
        assertThat(ok("snapshot-list", "vm", "--parent").out()).contains(" -x ").contains(" -e ").contains(" --i ");
        assertThat(ok("snapshot-info", "vm", "-e").out()).contains("Name:           -e\n")
                .contains("Location:       external\n").contains("Parent:         -x\n");
        assertThat(ok("snapshot-parent", "vm", "--", "--i").out()).isEqualTo("-e\n");
        assertThat(ok("snapshot-edit", "vm", "-x", "--rename", "-renamed").out()).isEqualTo("\n");
        try (var files = Files.walk(dir.resolve("home").resolve("vm").resolve("snapshots"))) {
            for (Path p : files.filter(Files::isRegularFile).toList()) {
                Files.delete(p);
            }
        }
        assertThat(ok("recover", "vm").out()).startsWith("Domain 'vm': 3 snapshots recovered: -renamed, -e, --i\n");
        assertThat(ok("snapshot-revert", "vm", "-renamed").out()).isEqualTo("Domain snapshot -renamed reverted\n\n");
        assertThat(ok("snapshot-delete", "vm", "--", "--i").out()).isEqualTo("Domain snapshot --i deleted\n\n");
        assertThat(ok("snapshot-delete", "vm", "-e").out()).isEqualTo("Domain snapshot -e deleted\n\n");
        assertThat(ok("snapshot-list", "vm", "--name").out()).isEqualTo("-renamed\n\n");
    }

    @Test
    void debugIsAnOptionOnlyBeforeTheEndOfOptions() {
        Cli.Run named = Cli.run("snapshot-info", "vm", "--", "--debug");
        assertThat(named.err()).isEqualTo("vmsnap: Domain snapshot not found: no domain snapshot with matching name"
                + " '--debug'\n");
        Cli.Run debug = Cli.run("snapshot-info", "vm", "nosuch", "--debug");
        assertThat(debug.err()).contains("\tat ").endsWith("vmsnap: Domain snapshot not found: no domain snapshot"
                + " with matching name 'nosuch'\n");
        Cli.Run value = Cli.run("snapshot-create-as", "vm", "--name", "--debug", "--disk-only", "--diskspec", "vdz");
        assertThat(value.err()).as("--debug is the name here").startsWith("vmsnap: ").doesNotContain("\tat ");
    }

    @Test
    void diskspecChoosesTheModeAndFile() {
        Path overlay = dir.resolve("over.qcow2");
        ok("snapshot-create-as", "vm", "x", "--diskspec", "vda,snapshot=external,file=" + overlay);
        assertThat(Files.exists(overlay)).isTrue();
        assertThat(fails("snapshot-create-as", "vm", "y", "--diskspec", "vdz,snapshot=internal"))
                .startsWith("vmsnap: ").contains("vdz");
        assertThat(fails("snapshot-create-as", "vm", "y", "--diskspec", "vda,color=red"))
                .isEqualTo("vmsnap: unable to parse diskspec: vda,color=red\n");
        assertThat(ok("snapshot-list", "vm", "--name").out()).isEqualTo("x\n\n");
    }

    @Test
    void editRenamesAnExternalSnapshotAndChangesDescriptions() throws IOException {
        ok("snapshot-create-as", "vm", "e1", "--disk-only");
        ok("snapshot-create-as", "vm", "e2", "--disk-only");
        assertThat(ok("snapshot-edit", "vm", "e1", "--rename", "first").out()).isEqualTo("\n");
        assertThat(ok("snapshot-parent", "vm", "e2").out()).isEqualTo("first\n");
        Path edited = dir.resolve("edit.xml");
        Files.writeString(edited, ok("snapshot-dumpxml", "vm", "e2").out().replace("<name>e2</name>",
                "<name>e2</name>\n  <description>after the upgrade</description>"));
        assertThat(ok("snapshot-edit", "vm", "--current", "--xml", edited.toString()).out())
                .isEqualTo("Snapshot e2 edited.\n\n");
        assertThat(ok("snapshot-dumpxml", "vm", "e2").out()).contains("<description>after the upgrade</description>");
        assertThat(ok("snapshot-edit", "vm", "e2", "--xml", edited.toString()).out())
                .isEqualTo("Snapshot e2 XML configuration not changed.\n\n");
        assertThat(fails("snapshot-edit", "vm", "e2")).contains("--rename NEW or --xml FILE");
    }

    @Test
    void redefineFromAFileAndDeleteMetadataOnly() throws IOException {
        ok("snapshot-create-as", "vm", "s1", "one");
        Path saved = dir.resolve("s1.xml");
        Files.writeString(saved, ok("snapshot-dumpxml", "vm", "s1").out());
        assertThat(ok("snapshot-delete", "vm", "s1", "--metadata").out()).isEqualTo("Domain snapshot s1 deleted\n\n");
        assertThat(ok("snapshot-list", "vm", "--name").out()).isEqualTo("\n");
        assertThat(ok("snapshot-create", "vm", saved.toString(), "--redefine", "--current").out())
                .isEqualTo("Domain snapshot s1 created from '" + saved + "'\n");
        assertThat(ok("snapshot-current", "vm", "--name").out()).isEqualTo("s1\n");
        assertThat(ok("snapshot-revert", "vm", "s1").out()).isEqualTo("Domain snapshot s1 reverted\n\n");
    }

    @Test
    void recoverBringsTheTreeBack() throws IOException {
        ok("snapshot-create-as", "vm", "s1", "kept description");
        ok("snapshot-create-as", "vm", "s2");
        try (var files = Files.walk(dir.resolve("home").resolve("vm").resolve("snapshots"))) {
            for (Path p : files.filter(Files::isRegularFile).toList()) {
                Files.delete(p);
            }
        }
        String out = ok("recover", "vm").out();
        assertThat(out).startsWith("Domain 'vm': 2 snapshots recovered: s1, s2\n");
        assertThat(ok("snapshot-list", "vm", "--tree").out()).isEqualTo("s1\n  |\n  +- s2\n    \n\n");
    }

    @Test
    void refusalsInOneLine() {
        ok("snapshot-create-as", "vm", "s1");
        assertThat(fails("undefine", "vm")).isEqualTo("vmsnap: Failed to undefine domain 'vm': Requested operation"
                + " is not valid: cannot delete inactive domain with 1 snapshots\n");
        assertThat(fails("snapshot-revert", "vm", "s1", "--running", "--paused"))
                .isEqualTo("vmsnap: Options --running and --paused are mutually exclusive\n");
        assertThat(fails("snapshot-list", "nosuch")).isEqualTo("vmsnap: failed to get domain 'nosuch'\n");
        assertThat(fails("snapshot-create", "vm", dir.resolve("missing.xml").toString()))
                .isEqualTo("vmsnap: Failed to open file '" + dir.resolve("missing.xml")
                        + "': No such file or directory\n");
        assertThat(fails("snapshot-create-as", "vm", "a/b")).startsWith("vmsnap: ").contains("'/'");
        assertThat(ok("undefine", "vm", "--snapshots-metadata").out()).isEqualTo("Domain 'vm' has been undefined\n\n");
        assertThat(Files.exists(dir.resolve("sys.qcow2"))).as("images stay unless asked").isTrue();
        assertThat(ok("list", "--all").out()).isEqualTo(" Id   Name   State\n--------------------\n\n");
    }

    @Test
    void namesKeepTheirSpacesEverywhere() throws IOException {
        assertThat(ok("snapshot-create-as", "vm", " sp").out()).isEqualTo("Domain snapshot  sp created\n");
        assertThat(ok("snapshot-list", "vm", "--name").out()).isEqualTo(" sp\n\n");
        assertThat(ok("snapshot-current", "vm", "--name").out()).isEqualTo(" sp\n");
        assertThat(ok("snapshot-dumpxml", "vm", " sp").out()).contains("<name> sp</name>");
        assertThat(ok("snapshot-info", "vm", " sp").out()).contains("Name:            sp\n");
        assertThat(fails("snapshot-info", "vm", "sp")).contains("sp");
        assertThat(ok("snapshot-create-as", "vm", "sp").out()).isEqualTo("Domain snapshot sp created\n");
        assertThat(ok("snapshot-parent", "vm", "sp").out()).isEqualTo(" sp\n");
        ok("snapshot-edit", "vm", " sp", "--rename", "two  spaces ");
        assertThat(ok("snapshot-list", "vm", "--name").out()).isEqualTo("sp\ntwo  spaces \n\n");
        try (Qcow2Image img = Qcow2Image.open(dir.resolve("sys.qcow2"), org.vmsnap.qcow2.OpenOptions.readOnlyOpen())) {
            assertThat(img.snapshots()).extracting(org.vmsnap.qcow2.SnapshotInfo::name)
                    .containsExactly("two  spaces ", "sp");
        }
        Path saved = dir.resolve("y.xml");
        Files.writeString(saved, ok("snapshot-dumpxml", "vm", "two  spaces ").out());
        assertThat(ok("snapshot-delete", "vm", "two  spaces ", "--metadata").out())
                .isEqualTo("Domain snapshot two  spaces  deleted\n\n");
        ok("snapshot-create", "vm", saved.toString(), "--redefine");
        assertThat(ok("snapshot-list", "vm", "--name").out()).isEqualTo("sp\ntwo  spaces \n\n");
        assertThat(ok("snapshot-delete", "vm", "two  spaces ").out()).isEqualTo("Domain snapshot two  spaces  deleted\n\n");
        assertThat(ok("snapshot-list", "vm", "--name").out()).isEqualTo("sp\n\n");
        assertThat(fails("snapshot-create-as", "vm", "   ")).isEqualTo("vmsnap: snapshot name '   ' is only spaces\n");
    }

    @Test
    void recoverTakesNamesFromImagesExactlyOrLeavesThemOut() throws IOException {
        try (Qcow2Image img = Qcow2Image.open(dir.resolve("sys.qcow2"), org.vmsnap.qcow2.OpenOptions.readWrite())) {
            img.createSnapshot(" z");
            img.createSnapshot("a/b");
            img.createSnapshot("..");
        }
        String out = ok("recover", "vm").out();
        assertThat(out).startsWith("Domain 'vm': 1 snapshot recovered:  z\n");
        assertThat(out).contains("'a/b' is not usable as a snapshot name").contains("'..' is not usable");
        assertThat(ok("snapshot-list", "vm", "--name").out()).isEqualTo(" z\n\n");
        try (var files = Files.walk(dir)) {
            assertThat(files.map(p -> p.getFileName().toString())).noneMatch(n -> n.equals("b.xml"));
        }
    }

    @Test
    void undefineRemovesOnlyTheImagesVmsnapMade() throws IOException {
        ok("snapshot-create-as", "vm", "e1", "--disk-only");
        Path overlay = dir.resolve("sys.e1");
        Path mirror = dir.resolve(".vm.vmsnap");
        Files.writeString(mirror.resolve("notes.txt"), "the user's notes\n");
        Cli.Run r = Cli.run("undefine", "vm", "--snapshots-metadata", "--remove-all-storage");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).isEqualTo("Domain 'vm' has been undefined\nVolume 'vda'(" + overlay + ") removed.\n\n");
        assertThat(r.err()).contains("vmsnap: Storage volume 'vda'(" + dir.resolve("sys.qcow2")
                + ") was not removed: not managed by vmsnap (vmsnap did not create it). Remove it manually.\n")
                .contains("vmsnap: kept " + mirror + ": it holds files vmsnap did not write (notes.txt)\n");
        assertThat(overlay).doesNotExist();
        assertThat(dir.resolve("sys.qcow2")).exists();
        assertThat(mirror.resolve("notes.txt")).hasContent("the user's notes\n");
        assertThat(mirror.resolve("domain.xml")).doesNotExist();
    }

    @Test
    void overlayNamesComeFromTheDisksOwnNameAfterRevertsAndDeletes() {
        ok("snapshot-create-as", "vm", "d", "--disk-only");
        ok("snapshot-create-as", "vm", "d.d lead", "--disk-only");
        ok("snapshot-revert", "vm", "d");
        ok("snapshot-create-as", "vm", "v1.0", "--disk-only");
        ok("snapshot-delete", "vm", "d");
        ok("snapshot-revert", "vm", "d.d lead");
        ok("snapshot-create-as", "vm", "x", "--disk-only");
        ok("snapshot-revert", "vm", "v1.0");
        ok("snapshot-revert", "vm", "x");
        String names = ok("domblklist", "vm").out();
        assertThat(names).contains(dir.resolve("sys.x").toString());
        try (var files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("sys.")).sorted())
                    .allMatch(n -> n.matches("sys\\.(qcow2|d|d\\.d lead|v1\\.0|x)(-\\d+)?"));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
