package org.vmsnap.qmp.hw;

/**
 * vCPUs: {@code current} online at start out of {@code max} (the rest can be hot-plugged),
 * in a topology whose product is {@code max}. Without a topology each vCPU is its own socket,
 * as libvirt starts QEMU, so a VM moved from libvirt sees the same CPUs.
 */
public record Vcpus(int max, int current, Topology topology) {

    /** {@code sockets * dies * cores * threads} must be the maximum vCPU count. */
    public record Topology(int sockets, int dies, int cores, int threads) {
        public Topology {
            if (sockets < 1 || dies < 1 || cores < 1 || threads < 1) {
                throw new IllegalArgumentException("topology counts must be positive");
            }
        }

        long product() {
            return (long) sockets * dies * cores * threads;
        }
    }

    public Vcpus {
        if (max < 1 || max > 255) {
            throw new IllegalArgumentException("vCPUs must be 1..255, not " + max);
        }
        if (current < 1 || current > max) {
            throw new IllegalArgumentException("current vCPUs must be 1.." + max + ", not " + current);
        }
        if (topology == null) {
            topology = new Topology(max, 1, 1, 1);
        }
        if (topology.product() != max) {
            throw new IllegalArgumentException("topology " + topology + " holds " + topology.product()
                    + " vCPUs, not " + max);
        }
    }

    public static Vcpus of(int count) {
        return new Vcpus(count, count, null);
    }
}
