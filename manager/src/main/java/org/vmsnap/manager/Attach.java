package org.vmsnap.manager;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.OptionalLong;
import java.util.Set;
import java.util.UUID;

import org.vmsnap.manager.live.LiveQemu;
import org.vmsnap.manager.xml.XmlText;
import org.vmsnap.qmp.BlockGraph;
import org.vmsnap.qmp.QemuProcess;
import org.vmsnap.qmp.QmpClient;
import org.vmsnap.qmp.QmpException;

/**
 * vmsnap attach: a QEMU that vmsnap did not start (a script's {@code qemu-system-x86_64 ...
 * -qmp unix:SOCK,server=on,wait=off}) becomes a domain: its definition comes from what QMP
 * reports (name, UUID, memory, vCPUs, and each disk's active image and format), so every
 * snapshot verb works on it. vmsnap never stops it unless asked (destroy, shutdown).
 */
final class Attach {
    private Attach() {
    }

    /** What QEMU runs, as a domain XML, and the QEMU's pid. */
    record Found(String xml, long pid) {
    }

    static Found inspect(String name, Path qmpSocket) throws IOException {
        long pid = pidServing(qmpSocket).orElseThrow(() -> new ManagerException("no running QEMU serves "
                + qmpSocket + " (its command line must name the socket, as -qmp unix:" + qmpSocket + ",... does)"));
        try (QmpClient qmp = QmpClient.connect(qmpSocket, LiveQemu.QMP_TIMEOUT)) {
            String uuid = qmp.execute("query-uuid", null, LiveQemu.QMP_TIMEOUT).path("UUID").asText("");
            if (uuid.isEmpty() || uuid.equals("00000000-0000-0000-0000-000000000000")) {
                uuid = UUID.randomUUID().toString();
            }
            long memory = qmp.execute("query-memory-size-summary", null, LiveQemu.QMP_TIMEOUT).path("base-memory")
                    .asLong();
            int cpus = qmp.execute("query-cpus-fast", null, LiveQemu.QMP_TIMEOUT).size();
            BlockGraph g = BlockGraph.query(qmp, LiveQemu.QMP_TIMEOUT);
            StringBuilder disks = new StringBuilder();
            Set<String> targets = new LinkedHashSet<>();
            List<String> skipped = new ArrayList<>();
            char next = 'a';
            for (BlockGraph.Backend b : g.backends()) {
                if (b.root() == null) {
                    continue; // an empty drive
                }
                Path file = g.imageFile(b.root()).orElse(null);
                String format = g.node(b.root()).map(BlockGraph.Node::driver).orElse("raw");
                if (file == null || !(format.equals("qcow2") || format.equals("raw"))) {
                    skipped.add(b.qdev().isEmpty() ? b.device() : b.qdev());
                    continue;
                }
                String target = deviceId(b);
                if (target == null || !target.matches("[hsv]d[a-z]+") || targets.contains(target)) {
                    while (targets.contains("vd" + next)) {
                        next++;
                    }
                    target = "vd" + next;
                }
                targets.add(target);
                boolean ro = g.node(b.root()).map(BlockGraph.Node::readOnly).orElse(false);
                disks.append("    <disk type='file' device='disk'>\n")
                        .append("      <driver name='qemu' type='").append(format).append("'/>\n")
                        .append("      <source file='").append(XmlText.escape(file.toString())).append("'/>\n")
                        .append("      <target dev='").append(target).append("' bus='virtio'/>\n")
                        .append(ro ? "      <readonly/>\n" : "")
                        .append("    </disk>\n");
            }
            String xml = "<domain type='" + (isKvm(qmp) ? "kvm" : "qemu") + "'>\n"
                    + "  <name>" + XmlText.escape(name) + "</name>\n"
                    + "  <uuid>" + uuid + "</uuid>\n"
                    + "  <description>attached by vmsnap from " + XmlText.escape(qmpSocket.toString())
                    + (skipped.isEmpty() ? "" : "; devices not managed: " + XmlText.escape(String.join(", ", skipped)))
                    + "</description>\n"
                    + "  <memory unit='KiB'>" + memory / 1024 + "</memory>\n"
                    + "  <vcpu placement='static'>" + Math.max(1, cpus) + "</vcpu>\n"
                    + "  <os>\n    <type arch='x86_64'>hvm</type>\n  </os>\n"
                    + "  <devices>\n" + disks + "  </devices>\n"
                    + "</domain>\n";
            return new Found(xml, pid);
        }
    }

    /** The peripheral id of a device ({@code /machine/peripheral/ID/...}) or the backend's own name. */
    private static String deviceId(BlockGraph.Backend b) {
        String prefix = "/machine/peripheral/";
        if (b.qdev().startsWith(prefix)) {
            String rest = b.qdev().substring(prefix.length());
            int slash = rest.indexOf('/');
            return (slash < 0 ? rest : rest.substring(0, slash)).toLowerCase(Locale.ROOT);
        }
        return b.device().isEmpty() ? null : b.device();
    }

    private static boolean isKvm(QmpClient qmp) {
        try {
            return qmp.execute("query-kvm", null, LiveQemu.QMP_TIMEOUT).path("enabled").asBoolean(false);
        } catch (QmpException e) {
            return false;
        }
    }

    /** The QEMU whose command line names this socket (the one serving it). */
    static OptionalLong pidServing(Path socket) {
        String wanted = socket.toAbsolutePath().normalize().toString();
        return ProcessHandle.allProcesses().filter(ProcessHandle::isAlive).mapToLong(ProcessHandle::pid)
                .filter(pid -> QemuProcess.isLiveQemu(pid)
                        && QemuProcess.commandLine(pid).stream().anyMatch(a -> mentions(a, wanted)))
                .findFirst();
    }

    /** Whether one argument names the socket ({@code unix:PATH,server=on}, {@code path=PATH}, or PATH). */
    private static boolean mentions(String arg, String socket) {
        for (String part : arg.split(",")) {
            String p = part.startsWith("unix:") ? part.substring(5) : part.startsWith("path=") ? part.substring(5) : part;
            if (!p.isEmpty() && p.indexOf('\0') < 0) {
                try {
                    if (Path.of(p).toAbsolutePath().normalize().toString().equals(socket)) {
                        return true;
                    }
                } catch (java.nio.file.InvalidPathException e) {
                    // not a path
                }
            }
        }
        return false;
    }
}
