package org.vmsnap.manager.xml;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

/** vmsnap's XML against libvirt's RELAX NG schemas, with virt-xml-validate (missing tool: failure). */
class LibvirtSchemaIT {
    static final String[] DOMAINS = Fixtures.DOMAINS;

    @TempDir
    Path dir;

    @ParameterizedTest
    @FieldSource("DOMAINS")
    void domainsAsVmsnapWritesThemValidate(String fixture) throws Exception {
        validate(Fixtures.domain(fixture).toXml(), "domain");
    }

    @Test
    void domainWithDisksMovedToOverlaysValidates() throws Exception {
        Domain d = Fixtures.domain("domain-web01.xml")
                .withDisk("vda", Path.of("/var/lib/libvirt/images/web01.s1"), "qcow2")
                .withDisk("vdb", Path.of("/var/lib/libvirt/images/web01-data.s1"), "qcow2");
        validate(d.toXml(), "domain");
        Domain bare = Domain.parse("<domain type='kvm'><name>bare</name><memory>1024</memory><os><type>hvm</type>"
                + "</os><devices><disk type='file' device='disk'><source file='/i/a.img'/><target dev='vda'/></disk>"
                + "</devices></domain>").withDisk("vda", Path.of("/i/a.s1"), "qcow2").withUuid(
                        "6695eb01-f6a4-8304-79aa-97f2502e193f");
        validate(bare.toXml(), "domain");
    }

    @Test
    void internalSnapshotValidates() throws Exception {
        validate(SnapshotXml.format(VmsnapSnapshots.internal()), "domainsnapshot");
    }

    @Test
    void storedCheckpointWithVmsnapsCookieValidates() throws Exception {
        SnapshotDef c = SnapshotXml.parse(Fixtures.read("snapshot-running.xml"));
        validate(SnapshotXml.formatStored(c.withQuiesced(false)), "domainsnapshot");
        validate(SnapshotXml.formatStored(c.withQuiesced(true)), "domainsnapshot");
    }

    @Test
    void externalSnapshotValidates() throws Exception {
        validate(SnapshotXml.format(VmsnapSnapshots.external()), "domainsnapshot");
    }

    @Test
    void mixedSnapshotValidates() throws Exception {
        validate(SnapshotXml.format(VmsnapSnapshots.mixed()), "domainsnapshot");
    }

    @Test
    void requestAndMemorySnapshotsValidate() throws Exception {
        validate(SnapshotXml.format(SnapshotXml.parse("<domainsnapshot><name>req</name><description>d</description>"
                + "<disks><disk name='/var/lib/libvirt/images/web01.qcow2' snapshot='external'>"
                + "<source file='/var/lib/libvirt/images/web01.req'/></disk><disk name='vdb'/></disks>"
                + "</domainsnapshot>")), "domainsnapshot");
        validate(SnapshotXml.format(SnapshotXml.parse("<domainsnapshot><name>m</name><state>running</state>"
                + "<creationTime>5</creationTime><memory snapshot='external' file='/var/lib/mem/m.save'/>"
                + "</domainsnapshot>")), "domainsnapshot");
    }

    @ParameterizedTest
    @FieldSource("org.vmsnap.manager.xml.Fixtures#SNAPSHOTS")
    void libvirtSnapshotsRewrittenByVmsnapValidate(String fixture) throws Exception {
        validate(SnapshotXml.format(SnapshotXml.parse(Fixtures.read(fixture))), "domainsnapshot");
    }

    private void validate(String xml, String schema) throws Exception {
        Path f = Files.createTempFile(dir, schema, ".xml");
        Files.writeString(f, xml);
        LibvirtTools.validate(f, schema);
    }
}
