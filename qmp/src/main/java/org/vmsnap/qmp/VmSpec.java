package org.vmsnap.qmp;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.vmsnap.qmp.hw.AgentChannel;
import org.vmsnap.qmp.hw.Balloon;
import org.vmsnap.qmp.hw.BlockLayer;
import org.vmsnap.qmp.hw.Boot;
import org.vmsnap.qmp.hw.Clock;
import org.vmsnap.qmp.hw.Cpu;
import org.vmsnap.qmp.hw.Disk;
import org.vmsnap.qmp.hw.KernelBoot;
import org.vmsnap.qmp.hw.Lifecycle;
import org.vmsnap.qmp.hw.Machine;
import org.vmsnap.qmp.hw.Memory;
import org.vmsnap.qmp.hw.Nic;
import org.vmsnap.qmp.hw.PciController;
import org.vmsnap.qmp.hw.Platform;
import org.vmsnap.qmp.hw.Rng;
import org.vmsnap.qmp.hw.Serial;
import org.vmsnap.qmp.hw.StorageController;
import org.vmsnap.qmp.hw.UsbController;
import org.vmsnap.qmp.hw.UsbInput;
import org.vmsnap.qmp.hw.Vcpus;
import org.vmsnap.qmp.hw.VirtioSerial;
import org.vmsnap.qmp.hw.Vnc;
import org.vmsnap.qmp.hw.Video;

/**
 * The hardware of one VM, in QEMU's terms and nobody else's (no libvirt XML here): what
 * {@link QemuProcess} starts. Build one with {@link #builder(String)}; the parts live in
 * {@code org.vmsnap.qmp.hw}. Null parts are absent (no VNC, no agent, no balloon, ...).
 *
 * <p>The constructor checks what QEMU would otherwise refuse late or silently get wrong: unique
 * node names and device ids, a PCI bus for every PCI address, one device per slot and
 * function, a controller for every drive address, unique boot indexes, a balloon for a
 * current memory below the maximum.
 *
 * @param uuid      the SMBIOS UUID the guest sees, or null
 * @param extraArgs appended to QEMU's command line as given ({@code <qemu:arg>})
 * @param env       set in QEMU's environment ({@code <qemu:env>})
 */
public record VmSpec(String name, String uuid, Machine machine, Accel accel, Cpu cpu, Memory memory, Vcpus vcpus,
                     Boot boot, Platform platform, Clock clock, Lifecycle lifecycle,
                     List<PciController> pciControllers, List<UsbController> usbControllers,
                     List<StorageController> storageControllers, VirtioSerial virtioSerial,
                     List<Disk> disks, List<Nic> nics, Vnc vnc, List<Video> videos, List<Serial> serials,
                     AgentChannel agent, Balloon balloon, List<Rng> rngs, List<UsbInput> inputs,
                     List<String> extraArgs, Map<String, String> env) {

    /** KVM when it can run a guest here (see {@code KvmProbe}), TCG otherwise; or one of them by force. */
    public enum Accel { AUTO, KVM, TCG }

    /** Node names of the UEFI firmware's pflash drives. */
    static final List<String> PFLASH_NODES = List.of("pflash0-format", "pflash0-storage", "pflash1-format",
            "pflash1-storage");

    /** Checks every part and how the parts fit together (the fields are set first, then {@link SpecCheck} reads them). */
    public VmSpec(String name, String uuid, Machine machine, Accel accel, Cpu cpu, Memory memory, Vcpus vcpus,
                  Boot boot, Platform platform, Clock clock, Lifecycle lifecycle,
                  List<PciController> pciControllers, List<UsbController> usbControllers,
                  List<StorageController> storageControllers, VirtioSerial virtioSerial,
                  List<Disk> disks, List<Nic> nics, Vnc vnc, List<Video> videos, List<Serial> serials,
                  AgentChannel agent, Balloon balloon, List<Rng> rngs, List<UsbInput> inputs,
                  List<String> extraArgs, Map<String, String> env) {
        if (name == null || name.isEmpty() || name.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
            throw new IllegalArgumentException("VM name must be non-empty, without control characters: " + name);
        }
        if (uuid != null && !uuid.matches("[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")) {
            throw new IllegalArgumentException("not a UUID: " + uuid);
        }
        this.name = name;
        this.uuid = uuid;
        this.machine = Objects.requireNonNull(machine, "machine");
        this.accel = Objects.requireNonNull(accel, "accel");
        this.cpu = Objects.requireNonNull(cpu, "cpu");
        this.memory = Objects.requireNonNull(memory, "memory");
        this.vcpus = Objects.requireNonNull(vcpus, "vcpus");
        this.boot = Objects.requireNonNull(boot, "boot");
        this.platform = Objects.requireNonNull(platform, "platform");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.lifecycle = Objects.requireNonNull(lifecycle, "lifecycle");
        this.pciControllers = List.copyOf(pciControllers);
        this.usbControllers = List.copyOf(usbControllers);
        this.storageControllers = List.copyOf(storageControllers);
        this.virtioSerial = virtioSerial;
        this.disks = List.copyOf(disks);
        this.nics = List.copyOf(nics);
        this.vnc = vnc;
        this.videos = List.copyOf(videos);
        this.serials = List.copyOf(serials);
        this.agent = agent;
        this.balloon = balloon;
        this.rngs = List.copyOf(rngs);
        this.inputs = List.copyOf(inputs);
        this.extraArgs = List.copyOf(extraArgs);
        this.env = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(env));
        SpecCheck.check(this);
    }

    /** A spec with defaults: pc, AUTO accel and CPU, 1 vCPU, SeaBIOS, no devices. */
    public static Builder builder(String name) {
        return new Builder(name);
    }

    /** A builder holding this spec's parts, to change some. */
    public Builder toBuilder() {
        Builder b = new Builder(name);
        b.uuid = uuid;
        b.machine = machine;
        b.accel = accel;
        b.cpu = cpu;
        b.memory = memory;
        b.vcpus = vcpus;
        b.boot = boot;
        b.platform = platform;
        b.clock = clock;
        b.lifecycle = lifecycle;
        b.pciControllers.addAll(pciControllers);
        b.usbControllers.addAll(usbControllers);
        b.storageControllers.addAll(storageControllers);
        b.virtioSerial = virtioSerial;
        b.disks.addAll(disks);
        b.nics.addAll(nics);
        b.vnc = vnc;
        b.videos.addAll(videos);
        b.serials.addAll(serials);
        b.agent = agent;
        b.balloon = balloon;
        b.rngs.addAll(rngs);
        b.inputs.addAll(inputs);
        b.extraArgs.addAll(extraArgs);
        b.env.putAll(env);
        return b;
    }

    /** Every block node name of the spec (disk layers and firmware), for callers that allocate new ones. */
    public Set<String> nodeNames() {
        Set<String> names = new HashSet<>();
        for (Disk disk : disks) {
            for (BlockLayer layer : disk.chain()) {
                names.add(layer.formatNode());
                names.add(layer.fileNode());
            }
        }
        return names;
    }

    /** Assembles a {@link VmSpec}; every setter returns the builder. */
    public static final class Builder {
        private final String name;
        private String uuid;
        private Machine machine = Machine.PC;
        private Accel accel = Accel.AUTO;
        private Cpu cpu = Cpu.AUTO;
        private Memory memory = Memory.of(256);
        private Vcpus vcpus = Vcpus.of(1);
        private Boot boot = Boot.bios();
        private Platform platform = Platform.DEFAULT;
        private Clock clock = Clock.UTC;
        private Lifecycle lifecycle = Lifecycle.DEFAULT;
        private final List<PciController> pciControllers = new ArrayList<>();
        private final List<UsbController> usbControllers = new ArrayList<>();
        private final List<StorageController> storageControllers = new ArrayList<>();
        private VirtioSerial virtioSerial;
        private final List<Disk> disks = new ArrayList<>();
        private final List<Nic> nics = new ArrayList<>();
        private Vnc vnc;
        private final List<Video> videos = new ArrayList<>();
        private final List<Serial> serials = new ArrayList<>();
        private AgentChannel agent;
        private Balloon balloon;
        private final List<Rng> rngs = new ArrayList<>();
        private final List<UsbInput> inputs = new ArrayList<>();
        private final List<String> extraArgs = new ArrayList<>();
        private final Map<String, String> env = new LinkedHashMap<>();

        private Builder(String name) {
            this.name = name;
        }

        public Builder uuid(String v) {
            uuid = v;
            return this;
        }

        public Builder machine(Machine v) {
            machine = v;
            return this;
        }

        public Builder accel(Accel v) {
            accel = v;
            return this;
        }

        public Builder cpu(Cpu v) {
            cpu = v;
            return this;
        }

        public Builder memory(Memory v) {
            memory = v;
            return this;
        }

        public Builder memoryMiB(long v) {
            return memory(Memory.of(v));
        }

        public Builder vcpus(Vcpus v) {
            vcpus = v;
            return this;
        }

        public Builder boot(Boot v) {
            boot = v;
            return this;
        }

        /** Direct kernel boot with QEMU's default firmware. */
        public Builder kernel(Path kernel, Path initrd, String cmdline) {
            return boot(Boot.kernel(new KernelBoot(kernel, initrd, cmdline)));
        }

        public Builder platform(Platform v) {
            platform = v;
            return this;
        }

        public Builder clock(Clock v) {
            clock = v;
            return this;
        }

        public Builder lifecycle(Lifecycle v) {
            lifecycle = v;
            return this;
        }

        public Builder pciController(PciController v) {
            pciControllers.add(v);
            return this;
        }

        public Builder usbController(UsbController v) {
            usbControllers.add(v);
            return this;
        }

        public Builder storageController(StorageController v) {
            storageControllers.add(v);
            return this;
        }

        public Builder virtioSerial(VirtioSerial v) {
            virtioSerial = v;
            return this;
        }

        public Builder disk(Disk v) {
            disks.add(v);
            return this;
        }

        public Builder disks(List<Disk> v) {
            disks.addAll(v);
            return this;
        }

        public Builder nic(Nic v) {
            nics.add(v);
            return this;
        }

        public Builder vnc(Vnc v) {
            vnc = v;
            return this;
        }

        public Builder video(Video v) {
            videos.add(v);
            return this;
        }

        public Builder serial(Serial v) {
            serials.add(v);
            return this;
        }

        public Builder agent(AgentChannel v) {
            agent = v;
            return this;
        }

        public Builder balloon(Balloon v) {
            balloon = v;
            return this;
        }

        public Builder rng(Rng v) {
            rngs.add(v);
            return this;
        }

        public Builder input(UsbInput v) {
            inputs.add(v);
            return this;
        }

        public Builder extraArgs(List<String> v) {
            extraArgs.addAll(v);
            return this;
        }

        public Builder env(String key, String value) {
            env.put(key, value);
            return this;
        }

        public VmSpec build() {
            return new VmSpec(name, uuid, machine, accel, cpu, memory, vcpus, boot, platform, clock, lifecycle,
                    pciControllers, usbControllers, storageControllers, virtioSerial, disks, nics, vnc, videos,
                    serials, agent, balloon, rngs, inputs, extraArgs, env);
        }
    }
}
