package org.vmsnap.manager.live;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;

import org.vmsnap.manager.InvalidInputException;
import org.vmsnap.manager.xml.Domain;
import org.vmsnap.manager.xml.DomainHardware;
import org.vmsnap.qmp.VmSpec;
import org.vmsnap.qmp.hw.BlockLayer;

/**
 * Turns a domain definition into the {@link VmSpec} QEMU is started with. Everything in the
 * XML that changes what the guest sees is either carried over or refused, with one line per
 * refusal naming the element and what to change ({@link UnsupportedDomainException}); nothing
 * is dropped silently. The image chains are the caller's: it reads them from the images and
 * names their nodes.
 */
public final class DomainTranslator {

    /**
     * What the runtime decides rather than the XML.
     *
     * @param accel        forces an accelerator, or null: {@code <domain type='kvm'>} is KVM when it
     *                     can run a guest here and TCG otherwise, {@code type='qemu'} is TCG
     * @param bridgeHelper the qemu-bridge-helper that makes the taps of {@code <interface type='bridge'>}
     */
    public record Options(VmSpec.Accel accel, Path bridgeHelper) {
        public static final Path DEBIAN_BRIDGE_HELPER = Path.of("/usr/lib/qemu/qemu-bridge-helper");

        public Options {
            Objects.requireNonNull(bridgeHelper, "bridgeHelper");
        }

        public static Options defaults() {
            return new Options(null, DEBIAN_BRIDGE_HELPER);
        }
    }

    private DomainTranslator() {
    }

    /**
     * The VM of {@code domain}.
     *
     * @param chains per disk target ({@code vda}), that disk's layers, top (the image the guest
     *               writes, the disk's {@code <source file>}) first, each with the node names the
     *               caller allocated; every disk with a source needs one, an empty CD-ROM none
     * @throws UnsupportedDomainException when the XML asks for what vmsnap does not start
     * @throws InvalidInputException      when the XML itself is invalid (a number that is not one)
     * @throws IllegalArgumentException   when {@code chains} does not fit the domain's disks
     */
    public static VmSpec translate(Domain domain, Map<String, List<BlockLayer>> chains, Options options)
            throws InvalidInputException {
        Refusals refusals = new Refusals(domain.name());
        refusals.addAll(domain.unsupportedElements());
        DomainHardware hw = domain.hardware();
        VmSpec.Builder spec = VmSpec.builder(domain.name()).uuid(hw.uuid());
        new MachineTranslation(hw, refusals, options).apply(spec);
        ControllerTranslation controllers = new ControllerTranslation(hw, refusals);
        controllers.apply(spec);
        new DiskTranslation(hw, refusals, controllers, chains).apply(spec);
        new DeviceTranslation(hw, refusals, controllers, options).apply(spec);
        refusals.throwIfAny();
        try {
            return spec.build();
        } catch (IllegalArgumentException e) {
            // what only the whole spec shows (two devices on one PCI slot, one boot index twice)
            refusals.add(e.getMessage());
            refusals.throwIfAny();
            throw e;
        }
    }
}
