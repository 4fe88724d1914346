package org.vmsnap.qmp.hw;

import java.nio.file.Path;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * A network card: the guest's device ({@code model}, MAC address, PCI address) over a host
 * backend (QEMU's user-mode network, or a tap on a bridge made by qemu-bridge-helper).
 *
 * @param id    the device id ({@code net0}); its backend is {@code host<id>}
 * @param model QEMU's device: virtio-net-pci, e1000, e1000e, rtl8139
 */
public record Nic(String id, Backend backend, String model, String mac, PciAddress pci, Integer bootIndex) {

    private static final Pattern MAC = Pattern.compile("[0-9a-f]{2}(:[0-9a-f]{2}){5}");
    private static final Pattern BRIDGE = Pattern.compile("[A-Za-z0-9_.-]{1,15}");
    private static final java.util.Set<String> MODELS = java.util.Set.of("virtio-net-pci", "e1000", "e1000e", "rtl8139");

    /** Where the NIC's packets go. */
    public sealed interface Backend {
    }

    /** QEMU's user-mode network (slirp): outgoing connections only, no setup on the host. */
    public record User() implements Backend {
    }

    /** A tap on {@code bridge}, made by the setuid {@code helper} (qemu-bridge-helper; /etc/qemu/bridge.conf must allow the bridge). */
    public record Bridge(String bridge, Path helper) implements Backend {
        public Bridge {
            if (bridge == null || !BRIDGE.matcher(bridge).matches()) {
                throw new IllegalArgumentException("bridge name must match " + BRIDGE + ": " + bridge);
            }
            Objects.requireNonNull(helper, "helper");
        }
    }

    public Nic {
        NodeNames.require(id, "NIC id");
        Objects.requireNonNull(backend, "backend");
        if (!MODELS.contains(model)) {
            throw new IllegalArgumentException("NIC model must be one of " + MODELS + ", not " + model);
        }
        if (mac == null || !MAC.matcher(mac).matches()) {
            throw new IllegalArgumentException("NIC " + id + ": MAC must be six lower-case hex pairs: " + mac);
        }
        if ((Integer.parseInt(mac.substring(0, 2), 16) & 1) != 0) {
            throw new IllegalArgumentException("NIC " + id + ": " + mac + " is a multicast MAC");
        }
        if (bootIndex != null && bootIndex < 1) {
            throw new IllegalArgumentException("NIC " + id + ": boot index must be 1 or more");
        }
    }

    public String netdevId() {
        return "host" + id;
    }
}
