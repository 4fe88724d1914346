package org.vmsnap.manager.xml;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The allow-list of the domain XML vmsnap can start: every element of the document is walked;
 * an element or attribute that is neither implemented ({@link #ELEMENTS}) nor known to leave
 * the guest's view unchanged ({@link #IGNORED}, with the reason) is one refusal line, so nothing
 * that changes what the guest sees is silently dropped. Values of allowed attributes
 * (an {@code <interface type='network'>}) are judged by the translator.
 */
public final class DomainSupport {

    private static final Set<String> ADDRESS = Set.of("type", "domain", "bus", "slot", "function", "multifunction",
            "controller", "target", "unit", "port");

    /** Element path (tags below {@code <domain>}, '/'-joined) to its allowed attributes. */
    static final Map<String, Set<String>> ELEMENTS = new HashMap<>();

    /** Element paths whose whole subtree is accepted and not used, with why that leaves the guest unchanged. */
    public static final Map<String, String> IGNORED = new LinkedHashMap<>();

    /** What to change, for refusals where one is known. */
    private static final Map<String, String> HINTS = Map.of(
            "devices/sound", "remove it (vmsnap starts VMs without sound devices)",
            "devices/audio", "remove it (vmsnap starts VMs without sound devices)",
            "devices/redirdev", "remove it (USB redirection needs SPICE, which vmsnap does not run)",
            "os/bios", "remove it (SeaBIOS's defaults are used)",
            "devices/disk/driver iothread", "remove it (vmsnap runs no I/O threads)");

    static {
        allow("", "type", "id");
        allow("name");
        allow("uuid");
        allow("memory", "unit", "dumpCore");
        allow("currentMemory", "unit");
        allow("vcpu", "placement", "current", "cpuset");
        allow("os", "firmware");
        allow("os/type", "arch", "machine");
        allow("os/loader", "readonly", "type", "secure");
        allow("os/nvram", "template");
        allow("os/firmware");
        allow("os/firmware/feature", "enabled", "name");
        allow("os/kernel");
        allow("os/initrd");
        allow("os/cmdline");
        allow("os/boot", "dev");
        allow("os/bootmenu", "enable", "timeout");
        allow("features");
        allow("features/acpi");
        allow("features/apic");
        allow("features/pae");
        allow("features/vmport", "state");
        allow("cpu", "mode", "check", "migratable", "match");
        allow("cpu/model", "fallback");
        allow("cpu/topology", "sockets", "dies", "cores", "threads");
        allow("clock", "offset");
        allow("clock/timer", "name", "tickpolicy", "present");
        allow("on_poweroff");
        allow("on_reboot");
        allow("on_crash");
        allow("pm");
        allow("pm/suspend-to-mem", "enabled");
        allow("pm/suspend-to-disk", "enabled");
        allow("devices");
        allow("devices/emulator");
        device("disk", "type", "device", "snapshot");
        allow("devices/disk/driver", "name", "type", "cache", "discard", "io", "detect_zeroes");
        allow("devices/disk/source", "file", "dev", "index");
        allow("devices/disk/target", "dev", "bus", "tray");
        allow("devices/disk/readonly");
        allow("devices/disk/serial");
        allow("devices/disk/boot", "order");
        device("controller", "type", "index", "model", "ports");
        allow("devices/controller/model", "name");
        allow("devices/controller/target", "chassis", "port");
        allow("devices/controller/master", "startport");
        device("interface", "type");
        allow("devices/interface/mac", "address");
        allow("devices/interface/source", "network", "bridge");
        allow("devices/interface/model", "type");
        allow("devices/interface/boot", "order");
        device("serial", "type");
        allow("devices/serial/source", "path", "append");
        allow("devices/serial/target", "type", "port");
        allow("devices/serial/target/model", "name");
        device("console", "type");
        allow("devices/console/source", "path", "append");
        allow("devices/console/target", "type", "port");
        device("channel", "type");
        allow("devices/channel/source", "mode", "path");
        allow("devices/channel/target", "type", "name", "state");
        device("input", "type", "bus");
        device("graphics", "type", "port", "autoport", "listen");
        allow("devices/graphics/listen", "type", "address", "socket", "network");
        device("video");
        allow("devices/video/model", "type", "heads", "primary", "ram", "vram", "vram64", "vgamem");
        device("memballoon", "model");
        device("rng", "model");
        allow("devices/rng/backend", "model", "type");
        allow("devices/rng/rate", "bytes", "period");
        allow("qemu:commandline");
        allow("qemu:commandline/qemu:arg", "value");
        allow("qemu:commandline/qemu:env", "name", "value");

        IGNORED.put("title", "a label for people");
        IGNORED.put("description", "a note for people");
        IGNORED.put("metadata", "other applications' data");
        IGNORED.put("seclabel", "host security labels (sVirt); vmsnap runs QEMU as the calling user");
        IGNORED.put("resource", "libvirt's cgroup partition on the host");
        IGNORED.put("memtune", "host memory limits: not applied");
        IGNORED.put("blkiotune", "host I/O weights: not applied");
        IGNORED.put("cputune", "host CPU shares and pinning: not applied");
        IGNORED.put("numatune", "host NUMA placement: not applied");
        IGNORED.put("iothreads", "host I/O threads, unused while no disk names one (refused)");
        IGNORED.put("perf", "host perf events");
        IGNORED.put("devices/disk/backingStore", "the chain is read from the images themselves");
        IGNORED.put("devices/interface/target", "the host's tap name; qemu-bridge-helper names it");
        for (String d : List.of("disk", "controller", "interface", "serial", "console", "channel", "input", "graphics",
                "video", "memballoon", "rng")) {
            IGNORED.put("devices/" + d + "/alias", "libvirt's host-side name of the device");
        }
    }

    private DomainSupport() {
    }

    private static void allow(String path, String... attributes) {
        ELEMENTS.put(path, Set.of(attributes));
    }

    /** A device element that may have an {@code <address>} (checked by the translator per bus). */
    private static void device(String tag, String... attributes) {
        allow("devices/" + tag, attributes);
        ELEMENTS.put("devices/" + tag + "/address", ADDRESS);
    }

    /** Every refusal line for {@code root}, in document order; empty when the allow-list accepts all. */
    static List<String> problems(XmlElement root, String domain) {
        List<String> out = new ArrayList<>();
        walk(root, "", "", "domain " + domain + ": ", namespaces(Map.of(), root), out);
        return out;
    }

    private static void walk(XmlElement e, String path, String shown, String prefix, Map<String, String> ns,
            List<String> out) {
        Set<String> attributes = ELEMENTS.get(path);
        for (Map.Entry<String, String> a : e.attributes().entrySet()) {
            String name = a.getKey();
            if (name.equals("xmlns") || name.startsWith("xmlns:") || attributes.contains(name)) {
                continue;
            }
            String hint = HINTS.get(path + " " + name);
            out.add(prefix + shown.substring(0, Math.max(0, shown.lastIndexOf('<'))) + "<"
                    + (path.isEmpty() ? "domain" : tagOf(shown)) + " " + name + "='" + a.getValue() + "'> is not supported"
                    + (hint == null ? " by vmsnap" : ": " + hint));
        }
        for (Object c : e.children()) {
            if (!(c instanceof XmlElement child)) {
                continue;
            }
            Map<String, String> childNs = namespaces(ns, child);
            String tag = canonical(child, childNs);
            String childPath = path.isEmpty() ? tag : path + "/" + tag;
            String childShown = shown + "<" + child.tag() + ">";
            if (IGNORED.containsKey(childPath)) {
                continue;
            }
            if (!ELEMENTS.containsKey(childPath)) {
                String hint = HINTS.get(childPath);
                out.add(prefix + childShown + " is not supported" + (hint == null ? " by vmsnap" : ": " + hint));
                continue;
            }
            walk(child, childPath, childShown, prefix, childNs, out);
        }
    }

    private static String tagOf(String shown) {
        return shown.substring(shown.lastIndexOf('<') + 1, shown.length() - 1);
    }

    /** The prefixes bound where {@code e} is: its parent's, and its own declarations. */
    private static Map<String, String> namespaces(Map<String, String> parent, XmlElement e) {
        Map<String, String> out = null;
        for (Map.Entry<String, String> a : e.attributes().entrySet()) {
            if (a.getKey().startsWith("xmlns:")) {
                if (out == null) {
                    out = new HashMap<>(parent);
                }
                out.put(a.getKey().substring("xmlns:".length()), a.getValue().strip());
            }
        }
        return out == null ? parent : out;
    }

    /** {@code qemu:local} for an element in libvirt's QEMU namespace whatever its prefix; the tag otherwise. */
    private static String canonical(XmlElement e, Map<String, String> ns) {
        int colon = e.tag().indexOf(':');
        if (colon < 0) {
            return e.tag();
        }
        return HardwareReader.QEMU_NS.equals(ns.get(e.tag().substring(0, colon)))
                ? "qemu:" + e.tag().substring(colon + 1) : e.tag();
    }
}
