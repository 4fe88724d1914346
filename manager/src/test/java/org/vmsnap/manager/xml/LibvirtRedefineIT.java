package org.vmsnap.manager.xml;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * libvirt itself accepts vmsnap's snapshot XML: {@code snapshot-create --redefine} on the test
 * driver, and what libvirt then prints with snapshot-dumpxml is exactly what vmsnap wrote.
 */
class LibvirtRedefineIT {
    @TempDir
    Path dir;

    @Test
    void internalExternalAndMixedChainIsAcceptedAndPrintedBackIdentically() throws Exception {
        List<SnapshotDef> chain = VmsnapSnapshots.chain();
        StringBuilder cmd = new StringBuilder("define " + write("web01.xml", Fixtures.read("input/web01.xml")));
        for (SnapshotDef s : chain) {
            cmd.append("; snapshot-create web01 ").append(write(s.name() + ".xml", SnapshotXml.format(s)))
                    .append(" --redefine");
        }
        for (SnapshotDef s : chain) {
            cmd.append("; snapshot-dumpxml web01 ").append(s.name());
        }
        List<String> printed = LibvirtTools.documents(LibvirtTools.virsh(cmd.toString()), "domainsnapshot");
        assertThat(printed).containsExactlyElementsOf(chain.stream().map(SnapshotXml::format).toList());
    }

    @Test
    void treeAndCurrentAsLibvirtSeesThem() throws Exception {
        List<SnapshotDef> chain = VmsnapSnapshots.chain();
        StringBuilder cmd = new StringBuilder("define " + write("web01.xml", Fixtures.read("input/web01.xml")));
        for (SnapshotDef s : chain) {
            cmd.append("; snapshot-create web01 ").append(write(s.name() + ".xml", SnapshotXml.format(s)))
                    .append(" --redefine");
        }
        cmd.append("; snapshot-create web01 ").append(write("s3c.xml", SnapshotXml.format(chain.get(2))))
                .append(" --redefine --current; snapshot-parent web01 s3; echo /; snapshot-current web01 --name");
        String out = LibvirtTools.virsh(cmd.toString());
        // virsh -q prints these names without line breaks of their own: "s2/s3"
        assertThat(out.replaceAll("\\s", "")).isEqualTo("s2/s3");
    }

    /**
     * libvirt's policy, not the XML: a shut-off (internal) snapshot must include every writable
     * disk when it is redefined (virDomainSnapshotAlignDisks with uniform_internal_snapshot: QEMU's
     * savevm snapshots all disks). vmsnap allows {@code snapshot='no'} on one (a raw disk), so such a
     * snapshot validates against the schema (LibvirtSchemaIT) but libvirt refuses to import it.
     */
    @Test
    void internalSnapshotLeavingOutAWritableDiskIsRefusedByLibvirtsPolicy() throws Exception {
        String file = write("s1.xml", SnapshotXml.format(VmsnapSnapshots.internalWithoutVdb()));
        LibvirtTools.validate(Path.of(file), "domainsnapshot");
        assertThatThrownBy(() -> LibvirtTools.virsh("define " + write("web01.xml", Fixtures.read("input/web01.xml"))
                + "; snapshot-create web01 " + file + " --redefine"))
                .hasMessageContaining("error: unsupported configuration: disk 'vdb' must use snapshot mode 'internal'");
    }

    /** A snapshot naming its disks by image path is accepted by libvirt, which renames them as vmsnap does. */
    @Test
    void diskNamedByPathComesBackAsItsTarget() throws Exception {
        String input = Fixtures.read("input/snap-external.xml").replace("@DOMAIN@", Fixtures.read("input/web01.xml"));
        SnapshotDef parsed = SnapshotXml.parse(input);
        String out = LibvirtTools.virsh("define " + write("web01.xml", Fixtures.read("input/web01.xml"))
                + "; snapshot-create web01 " + write("ext1.xml", input) + " --redefine; snapshot-dumpxml web01 ext1");
        SnapshotDef libvirt = SnapshotXml.parse(LibvirtTools.documents(out, "domainsnapshot").get(0));
        assertThat(parsed.disks()).isEqualTo(libvirt.disks());
    }

    private String write(String name, String xml) throws Exception {
        Path f = dir.resolve(name);
        Files.writeString(f, xml);
        return f.toString();
    }
}
