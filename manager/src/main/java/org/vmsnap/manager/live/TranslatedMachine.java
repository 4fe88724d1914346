package org.vmsnap.manager.live;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.vmsnap.manager.InvalidInputException;
import org.vmsnap.manager.xml.Domain;
import org.vmsnap.qmp.RunFolder;
import org.vmsnap.qmp.VmSpec;
import org.vmsnap.qmp.hw.BlockLayer;

/**
 * The machine of a domain as {@link DomainTranslator} reads its XML, with every disk's chain
 * opened layer by layer under vmsnap's node names. {@code VMSNAP_TEST_ACCEL} (kvm or tcg)
 * forces the accelerator, as the tests do.
 */
public final class TranslatedMachine implements MachineBuilder {
    @Override
    public VmSpec build(Domain domain, Map<String, List<DiskLayer>> chains, RunFolder run)
            throws InvalidInputException {
        Map<String, List<BlockLayer>> layers = new LinkedHashMap<>();
        chains.forEach((target, chain) -> {
            List<BlockLayer> out = new ArrayList<>();
            for (DiskLayer l : chain) {
                out.add(new BlockLayer(l.file(), l.format().equals("qcow2") ? BlockLayer.Format.QCOW2
                        : BlockLayer.Format.RAW, l.formatNode(), l.storageNode()));
            }
            layers.put(target, out);
        });
        String forced = System.getenv("VMSNAP_TEST_ACCEL");
        VmSpec.Accel accel = forced == null || forced.isBlank() ? null
                : VmSpec.Accel.valueOf(forced.strip().toUpperCase(java.util.Locale.ROOT));
        DomainTranslator.Options defaults = DomainTranslator.Options.defaults();
        return DomainTranslator.translate(domain, layers,
                new DomainTranslator.Options(accel, defaults.bridgeHelper()));
    }
}
