package org.vmsnap.qmp.hw;

import java.util.Objects;

/**
 * A USB input device on controller {@code bus} (its index), at {@code port} ({@code 1},
 * {@code 1.2} behind a hub) or QEMU's choice when null. PS/2 mouse and keyboard are part of
 * pc and q35 machines and need nothing.
 */
public record UsbInput(Kind kind, int bus, String port) {

    public enum Kind {
        TABLET("usb-tablet"), MOUSE("usb-mouse"), KEYBOARD("usb-kbd");

        public final String driver;

        Kind(String driver) {
            this.driver = driver;
        }
    }

    public UsbInput {
        Objects.requireNonNull(kind, "kind");
        if (port != null && !port.matches("[1-9][0-9]?(\\.[1-9][0-9]?){0,4}")) {
            throw new IllegalArgumentException("USB port must look like 1 or 1.2: " + port);
        }
    }
}
