package org.vmsnap.qmp;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Turns a {@link VmSpec} and a run folder into a {@code qemu-system-x86_64} command line.
 *
 * <p>Every path that QEMU parses as part of a key=value option has its commas doubled
 * (QEMU's escape); disks use the JSON form of {@code -blockdev}, which needs no escaping.
 */
final class QemuCommandLine {

    /** sun_path holds 108 bytes including the terminating NUL. */
    static final int MAX_SOCKET_PATH_BYTES = 107;

    static final String AGENT_PORT_NAME = "org.qemu.guest_agent.0";

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
        for (Path socket : List.of(run.qmpSocket(), run.agentSocket())) {
            if (socket.toAbsolutePath().toString().getBytes(java.nio.charset.StandardCharsets.UTF_8).length
                    > MAX_SOCKET_PATH_BYTES) {
                throw new IllegalArgumentException("socket path too long for a UNIX socket (max "
                        + MAX_SOCKET_PATH_BYTES + " bytes): " + socket);
            }
        }
        List<String> cmd = new ArrayList<>();
        cmd.add(qemu.toString());
        cmd.addAll(List.of("-name", "guest=" + spec.name() + ",debug-threads=on"));
        cmd.addAll(List.of("-machine", "pc"));
        cmd.addAll(List.of("-accel", kvm ? "kvm" : "tcg"));
        if (kvm) {
            cmd.addAll(List.of("-cpu", "host"));
        }
        cmd.addAll(List.of("-m", spec.memoryMiB() + "M", "-smp", Integer.toString(spec.cpus())));
        // No default devices, no user config, no display: only what is listed here exists,
        // so the device set is the same on every start (a migration stream depends on it).
        cmd.addAll(List.of("-nodefaults", "-no-user-config", "-display", "none", "-no-reboot"));
        cmd.addAll(List.of("-kernel", spec.kernel().toAbsolutePath().toString()));
        if (spec.initrd() != null) {
            cmd.addAll(List.of("-initrd", spec.initrd().toAbsolutePath().toString()));
        }
        if (!spec.kernelArgs().isEmpty()) {
            cmd.addAll(List.of("-append", spec.kernelArgs()));
        }
        for (VmSpec.Disk disk : spec.disks()) {
            cmd.addAll(List.of("-blockdev", Json.write(blockdev(disk))));
            cmd.addAll(List.of("-device", "virtio-blk-pci,drive=" + disk.nodeName() + ",id=" + disk.nodeName() + "-dev"));
        }
        cmd.addAll(List.of("-chardev", "socket,id=qmp,path=" + escape(run.qmpSocket()) + ",server=on,wait=off",
                "-mon", "chardev=qmp,mode=control"));
        cmd.addAll(List.of("-chardev", "socket,id=qga0,path=" + escape(run.agentSocket()) + ",server=on,wait=off",
                "-device", "virtio-serial-pci,id=vser0",
                "-device", "virtserialport,bus=vser0.0,chardev=qga0,name=" + AGENT_PORT_NAME));
        // append=on: a restarted or restored VM continues the same log.
        cmd.addAll(List.of("-chardev", "file,id=serial0,append=on,path=" + escape(run.serialLog()),
                "-serial", "chardev:serial0"));
        cmd.addAll(List.of("-pidfile", run.pidFile().toAbsolutePath().toString()));
        if (incoming) {
            cmd.addAll(List.of("-S", "-incoming", "defer"));
        }
        return cmd;
    }

    private static ObjectNode blockdev(VmSpec.Disk disk) {
        ObjectNode file = Json.object()
                .put("driver", "file")
                .put("node-name", disk.nodeName() + "-file")
                .put("filename", disk.file().toAbsolutePath().toString());
        ObjectNode format = Json.object()
                .put("driver", disk.format())
                .put("node-name", disk.nodeName());
        if (disk.readOnly()) {
            file.put("read-only", true);
            format.put("read-only", true);
        }
        format.set("file", file);
        return format;
    }

    /** QEMU's option parser splits on commas; a doubled comma is a literal one. */
    static String escape(Path path) {
        return path.toAbsolutePath().toString().replace(",", ",,");
    }
}
