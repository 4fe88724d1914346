package org.vmsnap.qmp;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.vmsnap.qmp.hw.Boot;
import org.vmsnap.qmp.hw.Disk;
import org.vmsnap.qmp.hw.Firmware;
import org.vmsnap.qmp.hw.KernelBoot;
import org.vmsnap.qmp.hw.Nic;
import org.vmsnap.qmp.hw.Platform;
import org.vmsnap.qmp.hw.Vcpus;

/**
 * Turns a {@link VmSpec} and a run folder into a {@code qemu-system-x86_64} command line.
 *
 * <p>Devices, block nodes, network backends and objects use QEMU's JSON syntax, which needs no
 * escaping; every path QEMU parses as part of a key=value option ({@code -chardev}, {@code -vnc},
 * {@code -name}) has its commas doubled (QEMU's escape). {@code -nodefaults}: only what the spec
 * lists exists, so the guest sees the same devices on every start (a migration stream depends
 * on it).
 */
final class QemuCommandLine {

    /** sun_path holds 108 bytes including the terminating NUL. */
    static final int MAX_SOCKET_PATH_BYTES = 107;

    static final String AGENT_PORT_NAME = org.vmsnap.qmp.hw.AgentChannel.PORT_NAME;

    private QemuCommandLine() {
    }

    static boolean useKvm(Path qemu, VmSpec.Accel accel) {
        return switch (accel) {
            case KVM -> true;
            case TCG -> false;
            case AUTO -> KvmProbe.usable(qemu);
        };
    }

    /**
     * The command line (without a leading {@code setsid}).
     *
     * @param incoming whether QEMU waits for a migration stream ({@code -incoming defer},
     *                 CPUs stopped until {@code cont})
     */
    static List<String> build(Path qemu, VmSpec spec, RunFolder run, boolean kvm, boolean incoming) {
        checkSocket(run.qmpSocket());
        if (spec.agent() != null) {
            checkSocket(agentSocket(spec, run));
        }
        if (spec.vnc() != null && spec.vnc().socket() != null) {
            checkSocket(spec.vnc().socket());
        }
        List<String> cmd = new ArrayList<>();
        cmd.add(qemu.toString());
        cmd.addAll(List.of("-name", "guest=" + spec.name().replace(",", ",,") + ",debug-threads=on"));
        if (spec.uuid() != null) {
            cmd.addAll(List.of("-uuid", spec.uuid()));
        }
        cmd.addAll(List.of("-machine", machine(spec)));
        cmd.addAll(List.of("-accel", kvm ? "kvm" : "tcg"));
        cmd.addAll(List.of("-cpu", spec.cpu().qemuModel(kvm)));
        cmd.addAll(List.of("-m", "size=" + spec.memory().maxMiB() + "M"));
        cmd.addAll(List.of("-smp", smp(spec.vcpus())));
        cmd.addAll(List.of("-nodefaults", "-no-user-config", "-display", "none"));
        platform(cmd, spec, kvm);
        cmd.addAll(List.of("-action", spec.lifecycle().qemuAction()));
        boot(cmd, spec);
        DeviceArgs devices = new DeviceArgs(spec, run);
        devices.controllers(cmd);
        BlockArgs.firmware(cmd, spec.boot().firmware());
        for (Disk disk : spec.disks()) {
            BlockArgs.disk(cmd, disk, devices);
        }
        devices.rest(cmd);
        cmd.addAll(List.of("-chardev", "socket,id=qmp,path=" + escape(run.qmpSocket()) + ",server=on,wait=off",
                "-mon", "chardev=qmp,mode=control"));
        cmd.addAll(List.of("-pidfile", run.pidFile().toAbsolutePath().toString()));
        if (incoming) {
            cmd.addAll(List.of("-S", "-incoming", "defer"));
        }
        cmd.addAll(spec.extraArgs());
        return cmd;
    }

    /** The agent's socket: the spec's own, or the run folder's. */
    static Path agentSocket(VmSpec spec, RunFolder run) {
        return spec.agent() == null || spec.agent().socket() == null ? run.agentSocket() : spec.agent().socket();
    }

    private static void checkSocket(Path socket) {
        if (socket.toAbsolutePath().toString().getBytes(StandardCharsets.UTF_8).length > MAX_SOCKET_PATH_BYTES) {
            throw new IllegalArgumentException("socket path too long for a UNIX socket (max "
                    + MAX_SOCKET_PATH_BYTES + " bytes): " + socket);
        }
    }

    private static String machine(VmSpec spec) {
        // usb=off: only the spec's USB controllers; dump-guest-core=off: guest RAM stays out of QEMU's core dumps
        StringBuilder m = new StringBuilder(spec.machine().type()).append(",usb=off,dump-guest-core=off");
        Platform p = spec.platform();
        if (!p.acpi()) {
            m.append(",acpi=off");
        }
        if (p.vmport() != null) {
            m.append(",vmport=").append(onOff(p.vmport()));
        }
        if (p.hpet() != null) {
            m.append(",hpet=").append(onOff(p.hpet()));
        }
        if (spec.boot().firmware() instanceof Firmware.Uefi) {
            m.append(",pflash0=pflash0-format,pflash1=pflash1-format");
        }
        return m.toString();
    }

    private static String smp(Vcpus v) {
        Vcpus.Topology t = v.topology();
        return v.current() + ",maxcpus=" + v.max() + ",sockets=" + t.sockets() + ",dies=" + t.dies() + ",cores="
                + t.cores() + ",threads=" + t.threads();
    }

    private static void platform(List<String> cmd, VmSpec spec, boolean kvm) {
        String pm = spec.machine().isQ35() ? "ICH9-LPC" : "PIIX4_PM";
        Platform p = spec.platform();
        if (p.s3() != null) {
            cmd.addAll(List.of("-global", pm + ".disable_s3=" + (p.s3() ? 0 : 1)));
        }
        if (p.s4() != null) {
            cmd.addAll(List.of("-global", pm + ".disable_s4=" + (p.s4() ? 0 : 1)));
        }
        String rtc = "base=" + (spec.clock().offset() == org.vmsnap.qmp.hw.Clock.Offset.UTC ? "utc" : "localtime");
        cmd.addAll(List.of("-rtc", rtc + (spec.clock().rtcCatchUp() ? ",driftfix=slew" : "")));
        // the in-kernel PIT exists only under KVM; TCG's PIT has no tick policy
        if (kvm && spec.clock().pitDelay()) {
            cmd.addAll(List.of("-global", "kvm-pit.lost_tick_policy=delay"));
        }
    }

    private static void boot(List<String> cmd, VmSpec spec) {
        Boot boot = spec.boot();
        KernelBoot k = boot.kernel();
        if (k != null) {
            cmd.addAll(List.of("-kernel", k.kernel().toAbsolutePath().toString()));
            if (k.initrd() != null) {
                cmd.addAll(List.of("-initrd", k.initrd().toAbsolutePath().toString()));
            }
            if (!k.cmdline().isEmpty()) {
                cmd.addAll(List.of("-append", k.cmdline()));
            }
        }
        boolean indexed = spec.disks().stream().anyMatch(d -> d.bootIndex() != null)
                || spec.nics().stream().map(Nic::bootIndex).anyMatch(i -> i != null);
        if (indexed || boot.menu()) {
            // strict: the firmware boots only the devices given an index, as libvirt starts QEMU
            String b = "strict=on";
            if (boot.menu()) {
                b += ",menu=on" + (boot.menuTimeoutMillis() == null ? "" : ",splash-time=" + boot.menuTimeoutMillis());
            }
            cmd.addAll(List.of("-boot", b));
        }
    }

    static String onOff(boolean value) {
        return value ? "on" : "off";
    }

    /** QEMU's option parser splits on commas; a doubled comma is a literal one. */
    static String escape(Path path) {
        return path.toAbsolutePath().toString().replace(",", ",,");
    }
}
