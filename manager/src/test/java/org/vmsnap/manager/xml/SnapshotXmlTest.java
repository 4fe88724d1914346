package org.vmsnap.manager.xml;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.vmsnap.manager.InvalidInputException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

/** Snapshot XML against libvirt's snapshot-dumpxml output (fixtures made by libvirt 9.0). */
class SnapshotXmlTest {
    static final String[] SNAPSHOTS = Fixtures.SNAPSHOTS;

    @ParameterizedTest
    @FieldSource("SNAPSHOTS")
    void snapshotDumpxmlOutputRoundTripsByteForByte(String fixture) throws Exception {
        String libvirt = Fixtures.read(fixture);
        assertThat(SnapshotXml.format(SnapshotXml.parse(libvirt))).isEqualTo(libvirt);
    }

    @Test
    void externalSnapshotReadsModesFilesAndTheDomainCopy() throws Exception {
        SnapshotDef s = SnapshotXml.parse(Fixtures.read("snapshot-external.xml"));
        assertThat(s.name()).isEqualTo("ext1");
        assertThat(s.description()).isEqualTo("before the upgrade");
        assertThat(s.state()).isEqualTo("disk-snapshot");
        assertThat(s.creationTimeSec()).isEqualTo(1700000000L);
        assertThat(s.parent()).isNull();
        assertThat(s.memoryMode()).isEqualTo(SnapshotMode.NO);
        assertThat(s.disks()).containsExactly(
                new SnapshotDisk("vda", SnapshotMode.EXTERNAL, Path.of("/var/lib/libvirt/images/web01.ext1"), "qcow2"),
                new SnapshotDisk("vdb", SnapshotMode.EXTERNAL, Path.of("/var/lib/libvirt/images/web01-data.ext1"),
                        "qcow2"),
                new SnapshotDisk("vdc", SnapshotMode.NO, null, null),
                new SnapshotDisk("sda", SnapshotMode.NO, null, null));
        // the copy is the inactive definition: the test driver's live <target dev='testnet0'/> is not in it
        assertThat(s.domain().disks()).isEqualTo(Fixtures.domain("domain-web01.xml").disks());
        assertThat(s.domain().uuid()).isEqualTo("1b4e28ba-2fa1-11d2-883f-0016d3cca427");
        assertThat(s.location()).isEqualTo("external");
    }

    /**
     * input/snap-external.xml names vda by its image path, gives vdb a file but no mode, and puts
     * source before driver; libvirt turned it into the fixture. vmsnap must read it the same way.
     */
    @Test
    void userWrittenSnapshotIsReadAsLibvirtReadsIt() throws Exception {
        String input = Fixtures.read("input/snap-external.xml").replace("@DOMAIN@",
                Fixtures.read("input/web01.xml"));
        String libvirt = Fixtures.read("snapshot-external.xml");
        SnapshotDef s = SnapshotXml.parse(input);
        assertThat(s.disks()).isEqualTo(SnapshotXml.parse(libvirt).disks());
        String head = libvirt.substring(0, libvirt.indexOf("  <domain "));
        assertThat(SnapshotXml.format(s)).startsWith(head);
    }

    @Test
    void childHasItsParentAndInternalDisks() throws Exception {
        SnapshotDef s = SnapshotXml.parse(Fixtures.read("snapshot-child.xml"));
        assertThat(s.parent()).isEqualTo("s1");
        assertThat(s.state()).isEqualTo("shutoff");
        assertThat(s.disk("vda").mode()).isEqualTo(SnapshotMode.INTERNAL);
        assertThat(s.disk("sda").mode()).isEqualTo(SnapshotMode.NO);
        assertThat(s.location()).isEqualTo("internal");
    }

    @Test
    void descriptionKeepsItsTextExactly() throws Exception {
        SnapshotDef s = SnapshotXml.parse(Fixtures.read("snapshot-internal.xml"));
        assertThat(s.description()).isEqualTo("first snapshot: <ok> & \"quoted\"");
        SnapshotDef spaced = SnapshotXml.parse("<domainsnapshot><description>  two\n lines </description>"
                + "</domainsnapshot>");
        assertThat(spaced.description()).isEqualTo("  two\n lines ");
    }

    @Test
    void requestWithOnlyNameDescriptionAndDisks() throws Exception {
        SnapshotDef s = SnapshotXml.parse("""
                <domainsnapshot>
                  <name>before-upgrade</name>
                  <description>pre</description>
                  <disks>
                    <disk name='vda' snapshot='external'>
                      <source file='/images/a.pre'/>
                    </disk>
                    <disk name='/images/b.qcow2' snapshot='internal'/>
                    <disk name='vdc'/>
                  </disks>
                </domainsnapshot>
                """);
        assertThat(s).isEqualTo(new SnapshotDef("before-upgrade", "pre", null, 0, null, null, null, List.of(
                new SnapshotDisk("vda", SnapshotMode.EXTERNAL, Path.of("/images/a.pre"), null),
                new SnapshotDisk("/images/b.qcow2", SnapshotMode.INTERNAL, null, null),
                new SnapshotDisk("vdc", null, null, null)), null));
    }

    @Test
    void emptyRequestIsAccepted() throws Exception {
        SnapshotDef s = SnapshotXml.parse("<domainsnapshot/>");
        assertThat(s.name()).isNull();
        assertThat(s.disks()).isEmpty();
        assertThat(s.domain()).isNull();
    }

    @Test
    void libvirtsPrivateElementsAreAcceptedAndNotKept() throws Exception {
        String withPrivate = Fixtures.read("snapshot-running.xml").replace("</domainsnapshot>", """
                  <inactiveDomain type='test'>
                    <name>test</name>
                    <memory unit='KiB'>8388608</memory>
                  </inactiveDomain>
                  <cookie>
                    <cpu mode='custom' match='exact' check='full'>
                      <model fallback='forbid'>qemu64</model>
                    </cpu>
                  </cookie>
                  <active>1</active>
                </domainsnapshot>
                """);
        assertThat(SnapshotXml.format(SnapshotXml.parse(withPrivate))).isEqualTo(Fixtures.read("snapshot-running.xml"));
    }

    @Test
    void theStoreKeepsWhetherACheckpointWasQuiescedInItsCookieAndDumpxmlDoesNotShowIt() throws Exception {
        SnapshotDef running = SnapshotXml.parse(Fixtures.read("snapshot-running.xml"));
        for (Boolean q : new Boolean[] {Boolean.TRUE, Boolean.FALSE}) {
            SnapshotDef recorded = running.withQuiesced(q);
            String stored = SnapshotXml.formatStored(recorded);
            assertThat(stored).isEqualTo(Fixtures.read("snapshot-running.xml").replace("</domainsnapshot>",
                    "  <cookie>\n    <vmsnap:checkpoint xmlns:vmsnap='http://vmsnap.org/schemas/snapshot/1.0'"
                            + " quiesced='" + (q ? "yes" : "no") + "'/>\n  </cookie>\n</domainsnapshot>"));
            assertThat(SnapshotXml.parseStored(stored)).isEqualTo(recorded);
            assertThat(SnapshotXml.parseStored(stored).mayHoldFrozenGuest()).isEqualTo(q);
            // snapshot-dumpxml prints what libvirt prints; a user's XML (a redefine) brings no record
            assertThat(SnapshotXml.format(recorded)).isEqualTo(Fixtures.read("snapshot-running.xml"));
            assertThat(SnapshotXml.parse(stored).quiesced()).isNull();
        }
        // Without the record (metadata of an older vmsnap, libvirt's private file with its own
        // cookie): not known, so a revert asks the guest's agent.
        assertThat(SnapshotXml.parseStored(Fixtures.read("snapshot-running.xml")).quiesced()).isNull();
        assertThat(SnapshotXml.formatStored(running)).isEqualTo(Fixtures.read("snapshot-running.xml"));
        String libvirtCookie = Fixtures.read("snapshot-running.xml").replace("</domainsnapshot>",
                "  <cookie><cpu mode='custom'><model>qemu64</model></cpu></cookie>\n</domainsnapshot>");
        assertThat(SnapshotXml.parseStored(libvirtCookie).quiesced()).isNull();
        assertThat(SnapshotXml.parseStored(libvirtCookie).mayHoldFrozenGuest()).isTrue();
        // The same element in another namespace is not vmsnap's record.
        assertThat(SnapshotXml.parseStored(Fixtures.read("snapshot-running.xml").replace("</domainsnapshot>",
                "<cookie><vmsnap:checkpoint xmlns:vmsnap='urn:other' quiesced='no'/></cookie></domainsnapshot>"))
                .quiesced()).isNull();
    }

    @Test
    void aDamagedQuiesceRecordIsRefusedWithItsValue() {
        String bad = "<domainsnapshot><name>c</name><cookie><vmsnap:checkpoint"
                + " xmlns:vmsnap='http://vmsnap.org/schemas/snapshot/1.0' quiesced='maybe'/></cookie></domainsnapshot>";
        assertThatThrownBy(() -> SnapshotXml.parseStored(bad)).isInstanceOf(InvalidInputException.class)
                .hasMessage("snapshot XML: <vmsnap:checkpoint quiesced='maybe'>, expected yes or no");
    }

    @Test
    void externalMemoryFile() throws Exception {
        SnapshotDef s = SnapshotXml.parse("<domainsnapshot><name>m</name><state>running</state>"
                + "<creationTime>5</creationTime><memory snapshot='external' file='/var/lib/mem/m.save'/>"
                + "</domainsnapshot>");
        assertThat(s.memoryMode()).isEqualTo(SnapshotMode.EXTERNAL);
        assertThat(s.memoryFile()).isEqualTo(Path.of("/var/lib/mem/m.save"));
        assertThat(s.location()).isEqualTo("external");
        assertThat(SnapshotXml.format(s)).isEqualTo("""
                <domainsnapshot>
                  <name>m</name>
                  <state>running</state>
                  <creationTime>5</creationTime>
                  <memory snapshot='external' file='/var/lib/mem/m.save'/>
                </domainsnapshot>
                """);
        // a file alone means external, as in libvirt
        assertThat(SnapshotXml.parse("<domainsnapshot><memory file='/m'/></domainsnapshot>").memoryMode())
                .isEqualTo(SnapshotMode.EXTERNAL);
    }

    @Test
    void oldSnapshotWithOnlyTheDomainUuidHasNoDomainCopy() throws Exception {
        SnapshotDef s = SnapshotXml.parse("<domainsnapshot><name>old</name><state>shutoff</state>"
                + "<creationTime>1</creationTime><domain><uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid></domain>"
                + "</domainsnapshot>");
        assertThat(s.domain()).isNull();
    }

    @Test
    void formatWritesExternalDisksWithTypeFileDriverThenSource() {
        SnapshotDef s = new SnapshotDef("s1", null, "disk-snapshot", 1700000000L, "s0", SnapshotMode.NO, null,
                List.of(new SnapshotDisk("vda", SnapshotMode.EXTERNAL, Path.of("/d/disk.s1"), "qcow2"),
                        new SnapshotDisk("vdb", SnapshotMode.NO, null, null)), null);
        assertThat(SnapshotXml.format(s)).isEqualTo("""
                <domainsnapshot>
                  <name>s1</name>
                  <state>disk-snapshot</state>
                  <parent>
                    <name>s0</name>
                  </parent>
                  <creationTime>1700000000</creationTime>
                  <memory snapshot='no'/>
                  <disks>
                    <disk name='vda' snapshot='external' type='file'>
                      <driver type='qcow2'/>
                      <source file='/d/disk.s1'/>
                    </disk>
                    <disk name='vdb' snapshot='no'/>
                  </disks>
                </domainsnapshot>
                """);
    }
}
