package org.vmsnap.qmp.hw;

import java.util.Objects;

/**
 * The guest's clock: the RTC's base, and the tick policies of the RTC (catch up lost ticks)
 * and, under KVM, the in-kernel PIT (delay them), as libvirt sets them.
 */
public record Clock(Offset offset, boolean rtcCatchUp, boolean pitDelay) {

    public static final Clock UTC = new Clock(Offset.UTC, false, false);

    public enum Offset { UTC, LOCALTIME }

    public Clock {
        Objects.requireNonNull(offset, "offset");
    }
}
