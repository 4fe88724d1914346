package org.vmsnap.testkit;

import java.nio.file.Path;

/**
 * The smallest domain XML the offline tests define: a name, 64 MiB and one virtio qcow2 disk per
 * image (vda, vdb, ...), nothing to boot. One copy, so the manager's and the server's tests
 * describe the same domain.
 */
public final class ShutOffDomainXml {

    private ShutOffDomainXml() {
    }

    public static String of(String name, Path... qcow2Disks) {
        if (qcow2Disks.length == 0 || qcow2Disks.length > GuestDomainXml.MAX_DISKS) {
            throw new IllegalArgumentException("1.." + GuestDomainXml.MAX_DISKS + " disks, not " + qcow2Disks.length);
        }
        StringBuilder xml = new StringBuilder("<domain type='kvm'>\n")
                .append("  <name>").append(GuestDomainXml.escape(name)).append("</name>\n")
                .append("  <memory unit='KiB'>65536</memory>\n")
                .append("  <devices>\n");
        for (int i = 0; i < qcow2Disks.length; i++) {
            xml.append("    <disk type='file' device='disk'>\n")
                    .append("      <driver name='qemu' type='qcow2'/>\n")
                    .append("      <source file='").append(GuestDomainXml.escape(qcow2Disks[i].toString()))
                    .append("'/>\n")
                    .append("      <target dev='vd").append((char) ('a' + i)).append("' bus='virtio'/>\n")
                    .append("    </disk>\n");
        }
        return xml.append("  </devices>\n").append("</domain>\n").toString();
    }
}
