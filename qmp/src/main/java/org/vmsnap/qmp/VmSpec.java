package org.vmsnap.qmp;

import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * What QEMU needs to run a VM: memory, vCPUs, disks, and a kernel to boot directly.
 *
 * @param name       the VM's name (QEMU's {@code -name}); letters, digits, {@code - _ .}
 * @param memoryMiB  guest RAM in MiB
 * @param cpus       vCPUs
 * @param kernel     the kernel image for direct boot
 * @param initrd     the initramfs, or null
 * @param kernelArgs the kernel command line
 * @param disks      the disks, in guest order (the first is {@code /dev/vda})
 * @param accel      which accelerator to use
 */
public record VmSpec(String name, int memoryMiB, int cpus, Path kernel, Path initrd, String kernelArgs,
                     List<Disk> disks, Accel accel) {

    /** Node names and VM names end up in QEMU options: keep them to a safe alphabet. */
    private static final Pattern SAFE_NAME = Pattern.compile("[A-Za-z][A-Za-z0-9_.-]{0,30}");

    /** KVM when it can run a guest here (see {@code KvmProbe}), TCG otherwise; or one of them by force. */
    public enum Accel { AUTO, KVM, TCG }

    /**
     * One disk: a format node named {@code nodeName} over a file node named
     * {@code nodeName-file}, attached as a virtio-blk device {@code nodeName-dev}. The
     * names are stable, so QMP commands ({@code blockdev-snapshot-sync},
     * {@code snapshot-save}) can name the nodes.
     *
     * @param format {@code qcow2} or {@code raw}
     */
    public record Disk(String nodeName, Path file, String format, boolean readOnly) {
        public Disk {
            requireSafe(nodeName, "node name");
            Objects.requireNonNull(file, "file");
            if (!format.equals("qcow2") && !format.equals("raw")) {
                throw new IllegalArgumentException("disk format must be qcow2 or raw, not " + format);
            }
        }

        /** A writable qcow2 disk. */
        public static Disk qcow2(String nodeName, Path file) {
            return new Disk(nodeName, file, "qcow2", false);
        }
    }

    public VmSpec {
        requireSafe(name, "VM name");
        if (memoryMiB < 16 || memoryMiB > 1 << 20) {
            throw new IllegalArgumentException("memory must be 16 MiB .. 1 TiB, not " + memoryMiB + " MiB");
        }
        if (cpus < 1 || cpus > 255) {
            throw new IllegalArgumentException("vCPUs must be 1..255, not " + cpus);
        }
        Objects.requireNonNull(kernel, "kernel");
        kernelArgs = kernelArgs == null ? "" : kernelArgs;
        disks = List.copyOf(disks);
        Set<String> names = new HashSet<>();
        for (Disk disk : disks) {
            if (!names.add(disk.nodeName())) {
                throw new IllegalArgumentException("two disks share the node name " + disk.nodeName());
            }
        }
        Objects.requireNonNull(accel, "accel");
    }

    private static void requireSafe(String name, String what) {
        if (name == null || !SAFE_NAME.matcher(name).matches()) {
            throw new IllegalArgumentException(what + " must match " + SAFE_NAME + ": " + name);
        }
    }
}
