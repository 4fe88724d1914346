package org.vmsnap.manager.xml;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;
import org.junit.jupiter.api.Test;

/** Domain XML against libvirt's own dumpxml output (fixtures made by libvirt 9.0). */
class DomainXmlTest {
    static final String[] DOMAINS = Fixtures.DOMAINS;

    @ParameterizedTest
    @FieldSource("DOMAINS")
    void dumpxmlOutputRoundTripsByteForByte(String fixture) throws Exception {
        String libvirt = Fixtures.read(fixture);
        assertThat(Domain.parse(libvirt).toXml()).isEqualTo(libvirt);
    }

    @Test
    void typicalVmReadsNameUuidMemoryVcpusAndDisks() throws Exception {
        Domain d = Fixtures.domain("domain-web01.xml");
        assertThat(d.name()).isEqualTo("web01");
        assertThat(d.uuid()).isEqualTo("1b4e28ba-2fa1-11d2-883f-0016d3cca427");
        // input/web01.xml says 2 GiB and 1536 MiB; libvirt's dumpxml (the fixture) says it in KiB
        assertThat(d.memoryKiB()).isEqualTo(2097152);
        assertThat(d.currentMemoryKiB()).isEqualTo(1572864);
        assertThat(d.vcpus()).isEqualTo(2);
        assertThat(d.currentVcpus()).isEqualTo(2);
        assertThat(d.kernel()).isNull();
        assertThat(d.disks()).containsExactly(
                new DiskDef("vda", "virtio", "disk", Path.of("/var/lib/libvirt/images/web01.qcow2"), "qcow2", false),
                new DiskDef("vdb", "virtio", "disk", Path.of("/var/lib/libvirt/images/web01-data.img"), "raw", false),
                new DiskDef("vdc", "virtio", "disk", Path.of("/var/lib/libvirt/images/shared-tools.qcow2"), "qcow2",
                        true),
                new DiskDef("sda", "sata", "cdrom", Path.of("/var/lib/libvirt/images/debian-12.iso"), "raw", true));
    }

    @Test
    void inputUnitsGiveTheSameDomainAsLibvirtsConversion() throws Exception {
        Domain input = Domain.parse(Fixtures.read("input/web01.xml"));
        Domain dumped = Fixtures.domain("domain-web01.xml");
        assertThat(input.memoryKiB()).isEqualTo(dumped.memoryKiB());
        assertThat(input.currentMemoryKiB()).isEqualTo(dumped.currentMemoryKiB());
        Domain bytes = Domain.parse(Fixtures.read("input/kernel-vm.xml")); // unit='b' and unit='bytes'
        assertThat(bytes.memoryKiB()).isEqualTo(Fixtures.domain("domain-kernel-vm.xml").memoryKiB());
        assertThat(bytes.currentMemoryKiB()).isEqualTo(Fixtures.domain("domain-kernel-vm.xml").currentMemoryKiB());
    }

    @Test
    void directKernelBootAndVcpuCurrent() throws Exception {
        Domain d = Fixtures.domain("domain-kernel-vm.xml");
        assertThat(d.kernel()).isEqualTo("/boot/vmlinuz-6.1");
        assertThat(d.initrd()).isEqualTo("/boot/initrd.img-6.1");
        assertThat(d.cmdline()).isEqualTo("console=ttyS0 root=/dev/vda1 ro quiet \"x=<y>\"");
        assertThat(d.memoryKiB()).isEqualTo(524288);
        assertThat(d.currentMemoryKiB()).isEqualTo(262144);
        assertThat(d.vcpus()).isEqualTo(4);
        assertThat(d.currentVcpus()).isEqualTo(1);
        // the empty cdrom and the block device stay in the XML but are not disks vmsnap manages
        assertThat(d.disks()).extracting(DiskDef::target).containsExactly("vda");
    }

    @Test
    void withDiskChangesOnlyThatDisksSourceAndDriverType() throws Exception {
        String libvirt = Fixtures.read("domain-web01.xml");
        Domain changed = Domain.parse(libvirt).withDisk("vdb", Path.of("/var/lib/libvirt/images/web01-data.s1"),
                "qcow2");
        String expected = libvirt
                .replace("<driver name='qemu' type='raw' cache='writeback'/>",
                        "<driver name='qemu' type='qcow2' cache='writeback'/>")
                .replace("web01-data.img", "web01-data.s1");
        assertThat(changed.toXml()).isEqualTo(expected);
        assertThat(changed.disk("vdb").orElseThrow().format()).isEqualTo("qcow2");
    }

    @Test
    void withDiskAddsDriverAndSourceWhereLibvirtWritesThem() throws Exception {
        Domain d = Domain.parse("""
                <domain type='kvm'>
                  <name>bare</name>
                  <memory>1024</memory>
                  <devices>
                    <disk type='file' device='disk'>
                      <source file='/images/a.img'/>
                      <target dev='vda'/>
                    </disk>
                  </devices>
                </domain>
                """);
        assertThat(d.withDisk("vda", Path.of("/images/a.s1"), "qcow2").toXml()).contains("""
                    <disk type='file' device='disk'>
                      <driver name='qemu' type='qcow2'/>
                      <source file='/images/a.s1'/>
                      <target dev='vda'/>
                    </disk>
                """);
    }

    @Test
    void withUuidGoesAfterName() throws Exception {
        Domain d = Domain.parse("<domain type='kvm'><name>n</name><memory>1024</memory></domain>")
                .withUuid("6695eb01-f6a4-8304-79aa-97f2502e193f");
        assertThat(d.toXml()).isEqualTo("""
                <domain type='kvm'>
                  <name>n</name>
                  <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>
                  <memory>1024</memory>
                </domain>
                """);
    }

    @Test
    void textAndAttributesAreEscapedLikeLibvirt() throws Exception {
        Domain d = Domain.parse("<domain type='kvm'><name>n</name><memory>1024</memory>"
                + "<description>it's \"q\" &lt;&amp;&gt;\ttab\nline2</description>"
                + "<title a=\"x'y&quot;\"/></domain>");
        assertThat(d.toXml()).contains("<description>it&apos;s &quot;q&quot; &lt;&amp;&gt;\ttab\nline2</description>")
                .contains("<title a='x&apos;y&quot;'/>");
    }

    @Test
    void commentsAndTheXmlDeclarationAreDroppedAsLibvirtDrops() throws Exception {
        Domain d = Domain.parse("<?xml version='1.0' encoding='UTF-8'?>\n<!-- made by hand -->\n"
                + "<domain type='kvm'><name>n</name><!-- x --><memory>1024</memory></domain>");
        assertThat(d.toXml()).isEqualTo("<domain type='kvm'>\n  <name>n</name>\n  <memory>1024</memory>\n</domain>\n");
    }
}
