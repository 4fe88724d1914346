package org.vmsnap.manager.live;

import java.util.List;
import java.util.Map;

import org.vmsnap.manager.InvalidInputException;
import org.vmsnap.manager.xml.Domain;
import org.vmsnap.qmp.RunFolder;
import org.vmsnap.qmp.VmSpec;

/** Turns a domain's XML and its disks' chains into what QEMU runs. */
public interface MachineBuilder {
    /**
     * @param chains each file disk's images by target, top first, with their node names
     * @throws InvalidInputException naming the element when the XML asks for what vmsnap does not run
     */
    VmSpec build(Domain domain, Map<String, List<DiskLayer>> chains, RunFolder run) throws InvalidInputException;
}
