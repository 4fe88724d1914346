package org.vmsnap.manager.live;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.vmsnap.manager.InvalidInputException;
import org.vmsnap.manager.xml.DiskDef;
import org.vmsnap.manager.xml.Domain;
import org.vmsnap.qmp.RunFolder;
import org.vmsnap.qmp.VmSpec;

/**
 * The smallest machine: direct kernel boot and virtio disks (QEMU opens each disk's backing
 * chain from the image headers). A stand-in until the full translation of the domain XML lands.
 */
public final class SimpleMachine implements MachineBuilder {
    @Override
    public VmSpec build(Domain domain, Map<String, List<DiskLayer>> chains, RunFolder run)
            throws InvalidInputException {
        if (domain.kernel() == null) {
            throw new InvalidInputException("domain " + domain.name() + ": <os> has no <kernel>: only direct kernel"
                    + " boot is supported for now");
        }
        List<VmSpec.Disk> disks = new ArrayList<>();
        for (DiskDef d : domain.disks()) {
            List<DiskLayer> chain = chains.get(d.target());
            if (chain == null || chain.isEmpty()) {
                continue;
            }
            disks.add(new VmSpec.Disk(d.target(), chain.getFirst().file(), chain.getFirst().format(), d.readOnly()));
        }
        String accel = System.getenv("VMSNAP_TEST_ACCEL");
        VmSpec.Accel a = accel == null || accel.isBlank() ? VmSpec.Accel.AUTO : VmSpec.Accel.valueOf(accel.toUpperCase());
        return new VmSpec(safeName(domain.name()), (int) Math.max(16, domain.memoryKiB() / 1024), domain.vcpus(),
                Path.of(domain.kernel()), domain.initrd() == null ? null : Path.of(domain.initrd()),
                domain.cmdline(), disks, a);
    }

    private static String safeName(String name) {
        String s = name.replaceAll("[^A-Za-z0-9_.-]", "_");
        return (Character.isLetter(s.charAt(0)) ? s : "d" + s).substring(0, Math.min(31, s.length()));
    }
}
