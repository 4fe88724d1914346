package org.vmsnap.manager.xml;

import java.nio.file.Path;

/**
 * One {@code <disk type='file'>} of a domain.
 *
 * @param target   the guest device name, {@code <target dev='vda'>}
 * @param bus      {@code <target bus=...>}, or null
 * @param device   {@code disk} or {@code cdrom}
 * @param source   the image file, {@code <source file=...>} (absolute)
 * @param format   {@code <driver type=...>}: qcow2 or raw (raw when absent, as libvirt: never probed)
 * @param readOnly {@code <readonly/>}
 */
public record DiskDef(String target, String bus, String device, Path source, String format, boolean readOnly) {
    public boolean isQcow2() {
        return "qcow2".equals(format);
    }
}
