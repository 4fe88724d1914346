package org.vmsnap.manager.live;

import java.nio.file.Path;
import java.util.List;

import org.vmsnap.manager.xml.DomainHardware;
import org.vmsnap.qmp.VmSpec;
import org.vmsnap.qmp.hw.Boot;
import org.vmsnap.qmp.hw.Clock;
import org.vmsnap.qmp.hw.Cpu;
import org.vmsnap.qmp.hw.Firmware;
import org.vmsnap.qmp.hw.KernelBoot;
import org.vmsnap.qmp.hw.Lifecycle;
import org.vmsnap.qmp.hw.Machine;
import org.vmsnap.qmp.hw.Memory;
import org.vmsnap.qmp.hw.Platform;
import org.vmsnap.qmp.hw.Vcpus;

/** The machine itself: type, accelerator, CPU, memory, vCPUs, firmware and boot, features, clock, lifecycle. */
final class MachineTranslation {

    private final DomainHardware hw;
    private final Refusals refuse;
    private final DomainTranslator.Options options;

    MachineTranslation(DomainHardware hw, Refusals refuse, DomainTranslator.Options options) {
        this.hw = hw;
        this.refuse = refuse;
        this.options = options;
    }

    void apply(VmSpec.Builder spec) {
        spec.accel(accel());
        Machine machine = machine();
        if (machine != null) {
            spec.machine(machine);
        }
        spec.cpu(cpu());
        Memory memory = memory();
        if (memory != null) {
            spec.memory(memory);
        }
        Vcpus vcpus = vcpus();
        if (vcpus != null) {
            spec.vcpus(vcpus);
        }
        Boot boot = boot();
        if (boot != null) {
            spec.boot(boot);
        }
        spec.platform(platform());
        Clock clock = clock();
        if (clock != null) {
            spec.clock(clock);
        }
        Lifecycle lifecycle = lifecycle();
        if (lifecycle != null) {
            spec.lifecycle(lifecycle);
        }
        spec.extraArgs(hw.qemuArgs());
        hw.qemuEnv().forEach((k, v) -> {
            if (!k.matches("[A-Za-z_][A-Za-z0-9_]*")) {
                refuse.add("<qemu:env name='" + k + "'> is not a valid environment variable name");
            } else {
                spec.env(k, v);
            }
        });
    }

    private VmSpec.Accel accel() {
        if (options.accel() != null) {
            return options.accel();
        }
        if ("kvm".equals(hw.type())) {
            return VmSpec.Accel.AUTO;
        }
        if ("qemu".equals(hw.type())) {
            return VmSpec.Accel.TCG;
        }
        return refuse.add("<domain type='" + hw.type() + "'> is not supported: use type='kvm' or type='qemu'");
    }

    private Machine machine() {
        if (hw.osType() != null && !hw.osType().equals("hvm")) {
            return refuse.add("<os><type>" + hw.osType() + "</type> is not supported: vmsnap runs hvm guests");
        }
        if (hw.arch() != null && !hw.arch().equals("x86_64")) {
            return refuse.add("<os><type arch='" + hw.arch() + "'> is not supported: vmsnap runs x86_64 guests");
        }
        String type = hw.machine() == null ? "pc" : hw.machine();
        try {
            return new Machine(type);
        } catch (IllegalArgumentException e) {
            return refuse.add("<os><type machine='" + type + "'> is not supported: use pc, q35, or pc-i440fx-X.Y or "
                    + "pc-q35-X.Y");
        }
    }

    /**
     * host-passthrough and host-model: the host's CPU under KVM, {@code max} under TCG;
     * {@code maximum}: {@code max}; a named model: that model; no {@code <cpu>} or no model:
     * qemu64, QEMU's default, which is what libvirt starts then too.
     */
    private Cpu cpu() {
        DomainHardware.Cpu c = hw.cpu();
        if (c == null) {
            return Cpu.named("qemu64");
        }
        String mode = c.mode() == null ? "custom" : c.mode();
        return switch (mode) {
            case "host-passthrough", "host-model" -> Cpu.AUTO;
            case "maximum" -> new Cpu(Cpu.Mode.MAX, null);
            case "custom" -> {
                if (c.model() == null || c.model().isEmpty()) {
                    yield Cpu.named("qemu64");
                }
                try {
                    yield Cpu.named(c.model());
                } catch (IllegalArgumentException e) {
                    yield refuse.add("<cpu><model>" + c.model() + "</model> is not a CPU model name");
                }
            }
            default -> refuse.add("<cpu mode='" + mode + "'> is not supported: use host-passthrough, maximum or a model");
        };
    }

    /** libvirt aligns x86 guest memory to 1 MiB, upwards. */
    private Memory memory() {
        long max = (hw.memoryKiB() + 1023) / 1024;
        long current = Math.min(max, (hw.currentMemoryKiB() + 1023) / 1024);
        if (current < max && hw.memballoons().stream().noneMatch(b -> "virtio".equals(b.model()))) {
            return refuse.add("<currentMemory> below <memory> needs <memballoon model='virtio'>: add one, or set "
                    + "<currentMemory> to <memory>");
        }
        try {
            return new Memory(max, current);
        } catch (IllegalArgumentException e) {
            return refuse.add("<memory> of " + max + " MiB is not supported: vmsnap runs 16 MiB .. 1 TiB");
        }
    }

    private Vcpus vcpus() {
        DomainHardware.Cpu c = hw.cpu();
        Vcpus.Topology topology = null;
        if (c != null && (c.sockets() != null || c.cores() != null || c.threads() != null || c.dies() != null)) {
            if (c.sockets() == null || c.cores() == null || c.threads() == null) {
                return refuse.add("<cpu><topology> needs sockets, cores and threads");
            }
            topology = new Vcpus.Topology(c.sockets(), c.dies() == null ? 1 : c.dies(), c.cores(), c.threads());
            long product = (long) c.sockets() * topology.dies() * c.cores() * c.threads();
            if (product != hw.vcpus()) {
                return refuse.add("<cpu><topology> holds " + product + " vCPUs but <vcpu> is " + hw.vcpus()
                        + ": make them agree");
            }
        }
        if (hw.vcpus() > 255) {
            return refuse.add("<vcpu>" + hw.vcpus() + "</vcpu> is not supported: vmsnap runs up to 255 vCPUs");
        }
        return new Vcpus(hw.vcpus(), hw.currentVcpus(), topology);
    }

    private Boot boot() {
        DomainHardware.Os os = hw.os();
        Firmware firmware = firmware(os);
        KernelBoot kernel = null;
        if (os.kernel() != null) {
            Path k = absolute("<os><kernel>", os.kernel());
            Path i = os.initrd() == null ? null : absolute("<os><initrd>", os.initrd());
            kernel = k == null ? null : new KernelBoot(k, i, os.cmdline());
        } else if (os.initrd() != null || os.cmdline() != null) {
            refuse.add("<os><initrd> and <os><cmdline> need <os><kernel>");
        }
        for (String dev : os.bootDevs()) {
            if (!List.of("hd", "cdrom", "network").contains(dev)) {
                refuse.add("<os><boot dev='" + dev + "'> is not supported: use hd, cdrom or network");
            }
        }
        boolean menu = "yes".equals(os.bootMenu());
        Integer timeout = menu ? os.bootMenuTimeout() : null;
        if (timeout != null && timeout > 65535) {
            refuse.add("<os><bootmenu timeout='" + timeout + "'> is more than 65535 ms");
            timeout = null;
        }
        return firmware == null ? null : new Boot(firmware, kernel, menu, timeout);
    }

    /**
     * SeaBIOS unless the XML names UEFI firmware in pflash: vmsnap has no firmware descriptor
     * search, so {@code firmware='efi'} needs the {@code <loader>} and {@code <nvram>} that
     * libvirt writes into a defined domain.
     */
    private Firmware firmware(DomainHardware.Os os) {
        for (String feature : os.firmwareFeaturesEnabled()) {
            refuse.add("<os><firmware><feature name='" + feature + "' enabled='yes'> is not supported: vmsnap starts "
                    + "UEFI without secure boot");
        }
        if (os.loader() == null) {
            if ("efi".equals(os.firmware())) {
                return refuse.add("<os firmware='efi'> needs <loader readonly='yes' type='pflash'> with the OVMF code "
                        + "and <nvram> with the VM's variable store");
            }
            return Firmware.BIOS;
        }
        if (!"pflash".equals(os.loaderType())) {
            return refuse.add("<os><loader type='" + (os.loaderType() == null ? "rom" : os.loaderType())
                    + "'> is not supported: use type='pflash' with OVMF, or no <loader> for SeaBIOS");
        }
        if (!"yes".equals(os.loaderReadonly())) {
            return refuse.add("<os><loader readonly='" + os.loaderReadonly() + "'> is not supported: use readonly='yes'");
        }
        if ("yes".equals(os.loaderSecure())) {
            return refuse.add("<os><loader secure='yes'> is not supported: vmsnap starts UEFI without secure boot "
                    + "(use OVMF_CODE_4M.fd, secure='no')");
        }
        if (os.nvram() == null || os.nvram().isEmpty()) {
            return refuse.add("<os><loader type='pflash'> needs <nvram> with the VM's UEFI variable store");
        }
        Path code = absolute("<os><loader>", os.loader());
        Path vars = absolute("<os><nvram>", os.nvram());
        Path template = os.nvramTemplate() == null ? null : absolute("<os><nvram template>", os.nvramTemplate());
        return code == null || vars == null ? null : new Firmware.Uefi(code, vars, template);
    }

    private Platform platform() {
        DomainHardware.Features f = hw.features();
        Boolean vmport = null;
        if (f.vmportState() != null) {
            vmport = switch (f.vmportState()) {
                case "on" -> true;
                case "off" -> false;
                default -> refuse.add("<features><vmport state='" + f.vmportState() + "'> must be on or off");
            };
        }
        Boolean hpet = null;
        for (DomainHardware.Timer t : hw.clock().timers()) {
            if ("hpet".equals(t.name()) && t.present() != null) {
                hpet = yesNo("<clock><timer name='hpet' present>", t.present());
            }
        }
        return new Platform(f.acpi(), vmport, hpet, yesNo("<pm><suspend-to-mem enabled>", hw.pm().suspendToMem()),
                yesNo("<pm><suspend-to-disk enabled>", hw.pm().suspendToDisk()));
    }

    private Clock clock() {
        DomainHardware.Clock c = hw.clock();
        Clock.Offset offset;
        if (c.offset() == null || c.offset().equals("utc")) {
            offset = Clock.Offset.UTC;
        } else if (c.offset().equals("localtime")) {
            offset = Clock.Offset.LOCALTIME;
        } else {
            return refuse.add("<clock offset='" + c.offset() + "'> is not supported: use utc or localtime");
        }
        boolean rtcCatchUp = false;
        boolean pitDelay = false;
        for (DomainHardware.Timer t : c.timers()) {
            String name = String.valueOf(t.name());
            switch (name) {
                case "rtc" -> {
                    if (t.present() != null && !t.present().equals("yes")) {
                        refuse.add("<clock><timer name='rtc' present='" + t.present() + "'> is not supported");
                    }
                    if ("catchup".equals(t.tickpolicy())) {
                        rtcCatchUp = true;
                    } else if (t.tickpolicy() != null) {
                        refuse.add("<clock><timer name='rtc' tickpolicy='" + t.tickpolicy()
                                + "'> is not supported: use catchup");
                    }
                }
                case "pit" -> {
                    if ("delay".equals(t.tickpolicy())) {
                        pitDelay = true;
                    } else if (t.tickpolicy() != null || t.present() != null) {
                        refuse.add("<clock><timer name='pit'> supports only tickpolicy='delay'");
                    }
                }
                case "hpet" -> {
                    if (t.tickpolicy() != null) {
                        refuse.add("<clock><timer name='hpet' tickpolicy='" + t.tickpolicy() + "'> is not supported");
                    }
                }
                default -> refuse.unsupported("<clock><timer name='" + name + "'>");
            }
        }
        return new Clock(offset, rtcCatchUp, pitDelay);
    }

    /**
     * QEMU's own {@code -action} instead of libvirt's daemon: power-off destroys (QEMU exits) or
     * preserves (QEMU stays, the guest stopped: {@code -no-shutdown}); a reboot restarts, or is
     * handled as the power-off ({@code -no-reboot}); a panic (seen only with a panic device)
     * destroys (QEMU exits with failure) or preserves (pauses). What needs a daemon to restart or
     * rename the VM, or to dump its core, is refused.
     */
    private Lifecycle lifecycle() {
        DomainHardware.Lifecycle l = hw.lifecycle();
        String poweroff = l.onPoweroff() == null ? "destroy" : l.onPoweroff();
        String reboot = l.onReboot() == null ? "restart" : l.onReboot();
        String crash = l.onCrash() == null ? "destroy" : l.onCrash();
        Lifecycle.Shutdown shutdown = switch (poweroff) {
            case "destroy" -> Lifecycle.Shutdown.POWEROFF;
            case "preserve" -> Lifecycle.Shutdown.PAUSE;
            default -> refuse.add("<on_poweroff>" + poweroff + "</on_poweroff> is not supported: use destroy or preserve");
        };
        Lifecycle.Reboot onReboot = switch (reboot) {
            case "restart" -> Lifecycle.Reboot.RESET;
            case "destroy" -> Lifecycle.Reboot.SHUTDOWN;
            default -> refuse.add("<on_reboot>" + reboot + "</on_reboot> is not supported: use restart or destroy");
        };
        Lifecycle.Panic panic = switch (crash) {
            case "destroy" -> Lifecycle.Panic.EXIT_FAILURE;
            case "preserve" -> Lifecycle.Panic.PAUSE;
            default -> refuse.add("<on_crash>" + crash + "</on_crash> is not supported: use destroy or preserve");
        };
        if (onReboot == Lifecycle.Reboot.SHUTDOWN && shutdown == Lifecycle.Shutdown.PAUSE) {
            // QEMU turns the reboot into a power-off, which would then be preserved, not destroyed
            return refuse.add("<on_reboot>destroy</on_reboot> with <on_poweroff>preserve</on_poweroff> is not "
                    + "supported: use restart, or on_poweroff destroy");
        }
        return shutdown == null || onReboot == null || panic == null ? null : new Lifecycle(shutdown, onReboot, panic);
    }

    private Boolean yesNo(String what, String value) {
        if (value == null) {
            return null;
        }
        return switch (value) {
            case "yes" -> true;
            case "no" -> false;
            default -> refuse.add(what + " must be yes or no, not '" + value + "'");
        };
    }

    private Path absolute(String what, String path) {
        Path p = Path.of(path.strip());
        return p.isAbsolute() ? p.normalize() : refuse.add(what + " '" + path + "' is not an absolute path");
    }
}
