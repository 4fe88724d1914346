package org.vmsnap.manager.xml;

import java.util.List;
import java.util.Map;

/**
 * What a domain XML says about the VM's hardware, in libvirt's words (strings as written, null
 * when absent), for the translation to a QEMU command line ({@code manager.live}). Read by
 * {@link HardwareReader}; what vmsnap cannot run at all is found first by {@link DomainSupport}.
 *
 * @param type        {@code <domain type>}: kvm or qemu
 * @param machine     {@code <os><type machine>}, or null
 * @param arch        {@code <os><type arch>}, or null
 * @param osType      the text of {@code <os><type>} (hvm)
 */
public record DomainHardware(String name, String type, String uuid, String machine, String arch, String osType,
                             Os os, long memoryKiB, long currentMemoryKiB, int vcpus, int currentVcpus, Cpu cpu,
                             Features features, Clock clock, Pm pm, Lifecycle lifecycle, List<Disk> disks,
                             List<Controller> controllers, List<Interface> interfaces, List<Graphics> graphics,
                             List<Video> videos, List<Chr> serials, List<Chr> consoles, List<Channel> channels,
                             List<Input> inputs, List<Memballoon> memballoons, List<Rng> rngs, List<String> qemuArgs,
                             Map<String, String> qemuEnv) {

    /**
     * {@code <address>} of any type; the numbers as libvirt reads them (0x.. hex), null when absent.
     *
     * @param port a USB port ({@code 1.2}) or virtio-serial port number, as written
     */
    public record Address(String type, Integer domain, Integer bus, Integer slot, Integer function,
                          boolean multifunction, Integer controller, Integer target, Integer unit, String port) {
    }

    /** {@code <os>}: firmware, direct kernel boot, boot order and menu. */
    public record Os(String firmware, String loader, String loaderType, String loaderReadonly, String loaderSecure,
                     String nvram, String nvramTemplate, List<String> firmwareFeaturesEnabled, String kernel,
                     String initrd, String cmdline, List<String> bootDevs, String bootMenu, Integer bootMenuTimeout) {
    }

    /** {@code <cpu>}: mode, model and topology. */
    public record Cpu(String mode, String model, Integer sockets, Integer dies, Integer cores, Integer threads) {
    }

    /** {@code <features>}: which are present, and vmport's state. */
    public record Features(boolean acpi, boolean apic, boolean pae, String vmportState) {
    }

    /** {@code <clock offset>} and its {@code <timer>}s. */
    public record Clock(String offset, List<Timer> timers) {
    }

    public record Timer(String name, String tickpolicy, String present) {
    }

    /** {@code <pm>}: suspend-to-mem and suspend-to-disk {@code enabled=}, null when absent. */
    public record Pm(String suspendToMem, String suspendToDisk) {
    }

    /** {@code <on_poweroff>}, {@code <on_reboot>}, {@code <on_crash>}, null when absent. */
    public record Lifecycle(String onPoweroff, String onReboot, String onCrash) {
    }

    /** A {@code <disk>} of any type, as far as running it needs. */
    public record Disk(String type, String device, String target, String bus, String sourceFile, String driverName,
                       String driverType, String cache, String discard, String io, String detectZeroes,
                       boolean readOnly, String serial, Integer bootOrder, String tray, Address address) {
    }

    /** A {@code <controller>}. */
    public record Controller(String type, Integer index, String model, String modelName, Integer ports,
                             Integer chassis, Integer port, Integer masterStartport, Address address) {
    }

    /** An {@code <interface>}. */
    public record Interface(String type, String mac, String sourceNetwork, String sourceBridge, String model,
                            Integer bootOrder, Address address) {
    }

    /** A {@code <graphics>} with its first {@code <listen>}. */
    public record Graphics(String type, String port, String autoport, String listenAttr, String listenType,
                           String listenAddress, String listenSocket) {
    }

    /** A {@code <video>}'s model. */
    public record Video(String model, Integer heads, String primary, Long ram, Long vram, Long vram64, Long vgamem,
                        Address address) {
    }

    /** A {@code <serial>} or {@code <console>}: source and target. */
    public record Chr(String type, String sourcePath, String sourceAppend, String targetType, Integer targetPort,
                      String targetModel) {
    }

    /** A {@code <channel>}. */
    public record Channel(String type, String sourceMode, String sourcePath, String targetType, String targetName,
                          Address address) {
    }

    /** An {@code <input>}. */
    public record Input(String type, String bus, Address address) {
    }

    /** A {@code <memballoon>}. */
    public record Memballoon(String model, Address address) {
    }

    /** An {@code <rng>} with its backend and rate. */
    public record Rng(String model, String backendModel, String backend, Long rateBytes, Long ratePeriod,
                      Address address) {
    }
}
