package org.vmsnap.testkit;

import java.nio.file.Path;
import java.util.List;

/**
 * The libvirt domain XML of the test guest, so that libvirt and vmsnap ({@code vmsnap define})
 * run the very same VM: direct kernel boot, virtio qcow2 data disks (vda, vdb, ...), the serial
 * console appended to a file, and the guest agent's virtio-serial channel (libvirt picks the
 * socket path).
 *
 * <p>Type {@code qemu} (TCG): the CI machines have no KVM, and libvirt refuses type {@code kvm}
 * without {@code /dev/kvm}. {@code <acpi/>} lets the power button ({@code virsh shutdown}) reach
 * the guest (libvirt passes {@code -no-acpi} without it). A reboot restarts the guest (libvirt's
 * default), so {@code virsh reboot} and {@code vmsnap reboot} reboot it; a guest panic
 * ({@code panic=-1}) reboots it too.
 */
final class GuestDomainXml {

    /** virtio disk names run vda..vdz. */
    static final int MAX_DISKS = 26;

    private GuestDomainXml() {
    }

    static String of(String name, int memoryMiB, Path kernel, Path initrd, String cmdline, List<Path> qcow2Disks,
            Path serialLog) {
        if (!name.matches("[A-Za-z0-9][A-Za-z0-9_.-]*")) {
            throw new IllegalArgumentException("domain name must be letters, digits and _ . -: " + name);
        }
        if (qcow2Disks.isEmpty() || qcow2Disks.size() > MAX_DISKS) {
            throw new IllegalArgumentException("the guest takes 1.." + MAX_DISKS + " data disks, not " + qcow2Disks.size());
        }
        StringBuilder xml = new StringBuilder();
        xml.append("<domain type='qemu'>\n")
                .append("  <name>").append(name).append("</name>\n")
                .append("  <memory unit='MiB'>").append(memoryMiB).append("</memory>\n")
                .append("  <vcpu>1</vcpu>\n")
                .append("  <os>\n")
                .append("    <type arch='x86_64' machine='pc'>hvm</type>\n")
                .append("    <kernel>").append(escape(kernel)).append("</kernel>\n")
                .append("    <initrd>").append(escape(initrd)).append("</initrd>\n")
                .append("    <cmdline>").append(escape(cmdline)).append("</cmdline>\n")
                .append("  </os>\n")
                .append("  <features>\n    <acpi/>\n  </features>\n")
                .append("  <on_poweroff>destroy</on_poweroff>\n")
                .append("  <on_reboot>restart</on_reboot>\n")
                .append("  <on_crash>destroy</on_crash>\n")
                .append("  <devices>\n");
        for (int i = 0; i < qcow2Disks.size(); i++) {
            xml.append("    <disk type='file' device='disk'>\n")
                    .append("      <driver name='qemu' type='qcow2'/>\n")
                    .append("      <source file='").append(escape(qcow2Disks.get(i))).append("'/>\n")
                    .append("      <target dev='vd").append((char) ('a' + i)).append("' bus='virtio'/>\n")
                    .append("    </disk>\n");
        }
        xml.append("    <serial type='file'>\n")
                .append("      <source path='").append(escape(serialLog)).append("' append='on'/>\n")
                .append("      <target port='0'/>\n")
                .append("    </serial>\n")
                .append("    <channel type='unix'>\n")
                .append("      <target type='virtio' name='org.qemu.guest_agent.0'/>\n")
                .append("    </channel>\n")
                .append("    <memballoon model='none'/>\n")
                .append("  </devices>\n")
                .append("</domain>\n");
        return xml.toString();
    }

    private static String escape(Path path) {
        return escape(path.toAbsolutePath().normalize().toString());
    }

    /** Safe inside element text and single- or double-quoted attributes. */
    static String escape(String text) {
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                .replace("'", "&apos;").replace("\"", "&quot;");
    }
}
