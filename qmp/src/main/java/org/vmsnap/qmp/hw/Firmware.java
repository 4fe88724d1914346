package org.vmsnap.qmp.hw;

import java.nio.file.Path;
import java.util.Objects;

/** What the guest runs first: SeaBIOS (QEMU's default BIOS) or UEFI from pflash. */
public sealed interface Firmware {

    Firmware BIOS = new Bios();

    /** QEMU's default firmware (SeaBIOS on pc and q35). */
    record Bios() implements Firmware {
    }

    /**
     * UEFI: the firmware code in read-only pflash 0 and the VM's own variable store in
     * writable pflash 1 (for example Debian's ovmf: {@code /usr/share/OVMF/OVMF_CODE_4M.fd}
     * with a copy of {@code OVMF_VARS_4M.fd}).
     *
     * @param varsTemplate where a missing variable store is copied from (the runtime's job), or null
     */
    record Uefi(Path code, Path vars, Path varsTemplate) implements Firmware {
        public Uefi {
            Objects.requireNonNull(code, "UEFI code");
            Objects.requireNonNull(vars, "UEFI variable store");
        }
    }
}
