package org.vmsnap.manager.xml;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.vmsnap.manager.InvalidInputException;

/**
 * Reads a domain's hardware into {@link DomainHardware}: values as written, numbers parsed as
 * libvirt parses them (a {@code 0x} prefix is hex, a leading 0 octal). It judges nothing;
 * {@link DomainSupport} and the translator do.
 */
final class HardwareReader {

    /** libvirt's namespace of {@code <qemu:commandline>}. */
    static final String QEMU_NS = "http://libvirt.org/schemas/domain/qemu/1.0";

    private final XmlElement root;
    private final String where;

    private HardwareReader(XmlElement root, String domain) {
        this.root = root;
        this.where = "domain " + domain;
    }

    static DomainHardware read(XmlElement root, String domain, DomainResources resources) throws InvalidInputException {
        return new HardwareReader(root, domain).read(domain, resources);
    }

    private DomainHardware read(String domain, DomainResources res) throws InvalidInputException {
        XmlElement os = child(root, "os");
        XmlElement osType = child(os, "type");
        XmlElement devices = child(root, "devices");
        List<DomainHardware.Disk> disks = new ArrayList<>();
        List<DomainHardware.Controller> controllers = new ArrayList<>();
        List<DomainHardware.Interface> interfaces = new ArrayList<>();
        List<DomainHardware.Graphics> graphics = new ArrayList<>();
        List<DomainHardware.Video> videos = new ArrayList<>();
        List<DomainHardware.Chr> serials = new ArrayList<>();
        List<DomainHardware.Chr> consoles = new ArrayList<>();
        List<DomainHardware.Channel> channels = new ArrayList<>();
        List<DomainHardware.Input> inputs = new ArrayList<>();
        List<DomainHardware.Memballoon> balloons = new ArrayList<>();
        List<DomainHardware.Rng> rngs = new ArrayList<>();
        for (XmlElement d : devices == null ? List.<XmlElement>of() : elements(devices)) {
            switch (d.tag()) {
                case "disk" -> disks.add(disk(d));
                case "controller" -> controllers.add(controller(d));
                case "interface" -> interfaces.add(nic(d));
                case "graphics" -> graphics.add(graphics(d));
                case "video" -> videos.add(video(d));
                case "serial" -> serials.add(chr(d));
                case "console" -> consoles.add(chr(d));
                case "channel" -> channels.add(new DomainHardware.Channel(d.attr("type"), attr(d, "source", "mode"),
                        attr(d, "source", "path"), attr(d, "target", "type"), attr(d, "target", "name"), address(d)));
                case "input" -> inputs.add(new DomainHardware.Input(d.attr("type"), d.attr("bus"), address(d)));
                case "memballoon" -> balloons.add(new DomainHardware.Memballoon(d.attr("model"), address(d)));
                case "rng" -> rngs.add(rng(d));
                default -> {
                    // anything else is refused by DomainSupport before this is used
                }
            }
        }
        List<String> args = new ArrayList<>();
        Map<String, String> env = new LinkedHashMap<>();
        for (XmlElement c : elements(root)) {
            if (isQemu(c, "commandline", null)) {
                for (XmlElement e : elements(c)) {
                    if (isQemu(e, "arg", c) && e.attr("value") != null) {
                        args.add(e.attr("value"));
                    } else if (isQemu(e, "env", c) && e.attr("name") != null) {
                        env.put(e.attr("name"), e.attr("value") == null ? "" : e.attr("value"));
                    }
                }
            }
        }
        return new DomainHardware(domain, root.attr("type"), root.childText("uuid"),
                osType == null ? null : osType.attr("machine"), osType == null ? null : osType.attr("arch"),
                osType == null ? null : osType.text().strip(), os(os), res.memoryKiB(), res.currentMemoryKiB(),
                res.vcpus(), res.currentVcpus(), cpu(child(root, "cpu")), features(child(root, "features")),
                clock(child(root, "clock")), pm(child(root, "pm")),
                new DomainHardware.Lifecycle(text(root, "on_poweroff"), text(root, "on_reboot"), text(root, "on_crash")),
                List.copyOf(disks), List.copyOf(controllers), List.copyOf(interfaces), List.copyOf(graphics),
                List.copyOf(videos), List.copyOf(serials), List.copyOf(consoles), List.copyOf(channels),
                List.copyOf(inputs), List.copyOf(balloons), List.copyOf(rngs), List.copyOf(args), Map.copyOf(env));
    }

    private DomainHardware.Os os(XmlElement os) throws InvalidInputException {
        if (os == null) {
            return new DomainHardware.Os(null, null, null, null, null, null, null, List.of(), null, null, null, List.of(),
                    null, null);
        }
        XmlElement loader = child(os, "loader");
        XmlElement nvram = child(os, "nvram");
        List<String> features = new ArrayList<>();
        XmlElement fw = child(os, "firmware");
        for (XmlElement f : fw == null ? List.<XmlElement>of() : fw.children("feature")) {
            if ("yes".equals(f.attr("enabled"))) {
                features.add(required(f, "name", "<os><firmware><feature>"));
            }
        }
        List<String> boots = new ArrayList<>();
        for (XmlElement b : os.children("boot")) {
            boots.add(required(b, "dev", "<os><boot>")); // libvirt: "missing boot device"
        }
        XmlElement menu = child(os, "bootmenu");
        return new DomainHardware.Os(os.attr("firmware"), loader == null ? null : loader.text().strip(),
                loader == null ? null : loader.attr("type"), loader == null ? null : loader.attr("readonly"),
                loader == null ? null : loader.attr("secure"), nvram == null ? null : nvram.text().strip(),
                nvram == null ? null : nvram.attr("template"), List.copyOf(features), os.childTextExact("kernel"),
                os.childTextExact("initrd"), os.childTextExact("cmdline"), List.copyOf(boots),
                menu == null ? null : menu.attr("enable"), number(menu, "timeout", "<os><bootmenu timeout>"));
    }

    private DomainHardware.Cpu cpu(XmlElement cpu) throws InvalidInputException {
        if (cpu == null) {
            return null;
        }
        XmlElement model = child(cpu, "model");
        XmlElement t = child(cpu, "topology");
        return new DomainHardware.Cpu(cpu.attr("mode"), model == null ? null : model.text().strip(),
                number(t, "sockets", "<cpu><topology sockets>"), number(t, "dies", "<cpu><topology dies>"),
                number(t, "cores", "<cpu><topology cores>"), number(t, "threads", "<cpu><topology threads>"));
    }

    private static DomainHardware.Features features(XmlElement f) {
        if (f == null) {
            return new DomainHardware.Features(false, false, false, null);
        }
        XmlElement vmport = child(f, "vmport");
        return new DomainHardware.Features(child(f, "acpi") != null, child(f, "apic") != null, child(f, "pae") != null,
                vmport == null ? null : vmport.attr("state", "on"));
    }

    private static DomainHardware.Clock clock(XmlElement c) {
        if (c == null) {
            return new DomainHardware.Clock(null, List.of());
        }
        List<DomainHardware.Timer> timers = new ArrayList<>();
        for (XmlElement t : c.children("timer")) {
            timers.add(new DomainHardware.Timer(t.attr("name"), t.attr("tickpolicy"), t.attr("present")));
        }
        return new DomainHardware.Clock(c.attr("offset"), List.copyOf(timers));
    }

    private static DomainHardware.Pm pm(XmlElement pm) {
        return new DomainHardware.Pm(attr(pm, "suspend-to-mem", "enabled"), attr(pm, "suspend-to-disk", "enabled"));
    }

    private DomainHardware.Disk disk(XmlElement d) throws InvalidInputException {
        XmlElement driver = child(d, "driver");
        return new DomainHardware.Disk(d.attr("type", "file"), d.attr("device", "disk"), attr(d, "target", "dev"),
                attr(d, "target", "bus"), attr(d, "source", "file"), driver == null ? null : driver.attr("name"),
                driver == null ? null : driver.attr("type"), driver == null ? null : driver.attr("cache"),
                driver == null ? null : driver.attr("discard"), driver == null ? null : driver.attr("io"),
                driver == null ? null : driver.attr("detect_zeroes"), child(d, "readonly") != null,
                d.childText("serial"), number(child(d, "boot"), "order", "<disk><boot order>"),
                attr(d, "target", "tray"), address(d));
    }

    private DomainHardware.Controller controller(XmlElement c) throws InvalidInputException {
        XmlElement target = child(c, "target");
        return new DomainHardware.Controller(c.attr("type"), number(c, "index", "<controller index>"), c.attr("model"),
                attr(c, "model", "name"), number(c, "ports", "<controller ports>"),
                number(target, "chassis", "<controller><target chassis>"),
                number(target, "port", "<controller><target port>"),
                number(child(c, "master"), "startport", "<controller><master startport>"), address(c));
    }

    private DomainHardware.Interface nic(XmlElement i) throws InvalidInputException {
        return new DomainHardware.Interface(i.attr("type"), attr(i, "mac", "address"), attr(i, "source", "network"),
                attr(i, "source", "bridge"), attr(i, "model", "type"),
                number(child(i, "boot"), "order", "<interface><boot order>"), address(i));
    }

    private static DomainHardware.Graphics graphics(XmlElement g) {
        XmlElement listen = child(g, "listen");
        return new DomainHardware.Graphics(g.attr("type"), g.attr("port"), g.attr("autoport"), g.attr("listen"),
                listen == null ? null : listen.attr("type"), listen == null ? null : listen.attr("address"),
                listen == null ? null : listen.attr("socket"));
    }

    private DomainHardware.Video video(XmlElement v) throws InvalidInputException {
        XmlElement m = child(v, "model");
        return new DomainHardware.Video(m == null ? null : m.attr("type"), number(m, "heads", "<video><model heads>"),
                m == null ? null : m.attr("primary"), size(m, "ram"), size(m, "vram"), size(m, "vram64"),
                size(m, "vgamem"), address(v));
    }

    private DomainHardware.Chr chr(XmlElement c) throws InvalidInputException {
        XmlElement target = child(c, "target");
        return new DomainHardware.Chr(c.attr("type"), attr(c, "source", "path"), attr(c, "source", "append"),
                target == null ? null : target.attr("type"), number(target, "port", "<" + c.tag() + "><target port>"),
                target == null ? null : attr(target, "model", "name"));
    }

    private DomainHardware.Rng rng(XmlElement r) throws InvalidInputException {
        XmlElement backend = child(r, "backend");
        XmlElement rate = child(r, "rate");
        return new DomainHardware.Rng(r.attr("model"), backend == null ? null : backend.attr("model"),
                backend == null ? null : backend.text().strip(), size(rate, "bytes"), size(rate, "period"), address(r));
    }

    private DomainHardware.Address address(XmlElement device) throws InvalidInputException {
        XmlElement a = child(device, "address");
        if (a == null) {
            return null;
        }
        String what = "<" + device.tag() + "><address>";
        return new DomainHardware.Address(a.attr("type"), number(a, "domain", what), number(a, "bus", what),
                number(a, "slot", what), number(a, "function", what), "on".equals(a.attr("multifunction")),
                number(a, "controller", what), number(a, "target", what), number(a, "unit", what), a.attr("port"));
    }

    /** An attribute libvirt requires (found by XmlFuzzTest: a null went into List.copyOf). */
    private String required(XmlElement e, String attr, String what) throws InvalidInputException {
        String value = e.attr(attr);
        if (value == null) {
            throw new InvalidInputException(where + ": " + what + " has no " + attr + " attribute");
        }
        return value;
    }

    /** A number attribute as libvirt's virStrToLong with base 0 reads it; null when absent. */
    private Integer number(XmlElement e, String attr, String what) throws InvalidInputException {
        Long v = parse(e, attr, what);
        if (v != null && v > Integer.MAX_VALUE) {
            throw new InvalidInputException(where + ": " + what + " value " + e.attr(attr) + " is too large");
        }
        return v == null ? null : v.intValue();
    }

    private Long size(XmlElement e, String attr) throws InvalidInputException {
        return parse(e, attr, e == null ? attr : "<" + e.tag() + " " + attr + ">");
    }

    private Long parse(XmlElement e, String attr, String what) throws InvalidInputException {
        String raw = e == null ? null : e.attr(attr);
        if (raw == null) {
            return null;
        }
        String s = raw.strip();
        try {
            if (s.startsWith("0x") || s.startsWith("0X")) {
                return Long.parseUnsignedLong(s.substring(2), 16);
            }
            if (s.length() > 1 && s.startsWith("0")) {
                return Long.parseUnsignedLong(s.substring(1), 8);
            }
            if (!s.isEmpty() && s.chars().allMatch(Character::isDigit)) {
                return Long.parseLong(s);
            }
        } catch (NumberFormatException e2) {
            // reported below
        }
        throw new InvalidInputException(where + ": " + what + " value '" + raw + "' is not a number");
    }

    /** Whether {@code e} is {@code <P:local>} with P bound to libvirt's QEMU namespace (on e, its parent or the root). */
    private boolean isQemu(XmlElement e, String local, XmlElement parent) {
        int colon = e.tag().indexOf(':');
        if (colon < 0 || !e.tag().substring(colon + 1).equals(local)) {
            return false;
        }
        String xmlns = "xmlns:" + e.tag().substring(0, colon);
        for (XmlElement scope : new XmlElement[] {e, parent, root}) {
            if (scope != null && scope.attr(xmlns) != null) {
                return QEMU_NS.equals(scope.attr(xmlns).strip());
            }
        }
        return false;
    }

    private static List<XmlElement> elements(XmlElement e) {
        List<XmlElement> out = new ArrayList<>();
        for (Object c : e.children()) {
            if (c instanceof XmlElement x) {
                out.add(x);
            }
        }
        return out;
    }

    private static XmlElement child(XmlElement e, String tag) {
        return e == null ? null : e.child(tag);
    }

    private static String attr(XmlElement e, String childTag, String attr) {
        XmlElement c = child(e, childTag);
        return c == null ? null : c.attr(attr);
    }

    private static String text(XmlElement e, String tag) {
        String t = e.childText(tag);
        return t == null || t.isEmpty() ? null : t;
    }
}
