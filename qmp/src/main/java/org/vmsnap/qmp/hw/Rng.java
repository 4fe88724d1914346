package org.vmsnap.qmp.hw;

import java.nio.file.Path;
import java.util.Objects;

/**
 * A virtio random number generator fed from a host device ({@code /dev/urandom} or
 * {@code /dev/random}), optionally rate-limited to {@code maxBytes} per {@code periodMillis}.
 */
public record Rng(Path source, Long maxBytes, Long periodMillis, PciAddress pci) {
    public Rng {
        Objects.requireNonNull(source, "source");
        if (periodMillis != null && maxBytes == null) {
            throw new IllegalArgumentException("an RNG period needs a byte limit");
        }
        if (maxBytes != null && maxBytes < 1 || periodMillis != null && periodMillis < 1) {
            throw new IllegalArgumentException("RNG rate must be positive");
        }
    }
}
