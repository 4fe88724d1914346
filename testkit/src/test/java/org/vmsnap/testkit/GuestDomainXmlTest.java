package org.vmsnap.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The test guest's libvirt domain XML is valid for libvirt's schema and says what the guest needs. */
class GuestDomainXmlTest {

    @TempDir
    Path dir;

    private final Path kernel = Path.of("/cache/guest-1/vmlinuz");
    private final Path initrd = Path.of("/cache/guest-1/initrd.cpio");

    @Test
    void libvirtsSchemaAcceptsIt() throws Exception {
        String xml = GuestDomainXml.of("vmsnap-guest", 256, kernel, initrd, TestGuest.KERNEL_ARGS,
                List.of(dir.resolve("a.qcow2"), dir.resolve("b.qcow2")), dir.resolve("serial.log"));
        Path file = dir.resolve("domain.xml");
        Files.writeString(file, xml);
        QemuTools.run(List.of(QemuTools.find("virt-xml-validate", "libvirt-clients").toString(), file.toString(), "domain"))
                .requireSuccess();
    }

    @Test
    void disksAreVirtioQcow2InOrder_withSerialFileAndAgentChannel() {
        String xml = GuestDomainXml.of("g1", 512, kernel, initrd, "console=ttyS0 quiet panic=-1",
                List.of(dir.resolve("a.qcow2"), dir.resolve("b.qcow2")), dir.resolve("serial.log"));
        assertThat(xml).contains("<domain type='qemu'>", "<name>g1</name>", "<memory unit='MiB'>512</memory>",
                "<kernel>/cache/guest-1/vmlinuz</kernel>", "<initrd>/cache/guest-1/initrd.cpio</initrd>",
                "<cmdline>console=ttyS0 quiet panic=-1</cmdline>", "<acpi/>", "<on_reboot>restart</on_reboot>",
                "<serial type='file'>", "<source path='" + dir.resolve("serial.log") + "' append='on'/>",
                "<target type='virtio' name='org.qemu.guest_agent.0'/>");
        assertThat(xml.indexOf("<source file='" + dir.resolve("a.qcow2") + "'/>\n      <target dev='vda' bus='virtio'/>"))
                .isPositive();
        assertThat(xml.indexOf("<source file='" + dir.resolve("b.qcow2") + "'/>\n      <target dev='vdb' bus='virtio'/>"))
                .isGreaterThan(xml.indexOf("dev='vda'"));
        assertThat(xml).contains("<driver name='qemu' type='qcow2'/>");
    }

    @Test
    void pathsAreEscaped() {
        String xml = GuestDomainXml.of("g1", 256, kernel, initrd, "a<b",
                List.of(dir.resolve("it's & <more>.qcow2")), dir.resolve("serial.log"));
        assertThat(xml).contains("it&apos;s &amp; &lt;more&gt;.qcow2").contains("<cmdline>a&lt;b</cmdline>");
    }

    @Test
    void namesAndDiskCountsAreChecked() {
        List<Path> one = List.of(dir.resolve("a.qcow2"));
        assertThatThrownBy(() -> GuestDomainXml.of("a b", 256, kernel, initrd, "", one, dir.resolve("s")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("a b");
        assertThatThrownBy(() -> GuestDomainXml.of("g", 256, kernel, initrd, "", List.of(), dir.resolve("s")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not 0");
    }
}
