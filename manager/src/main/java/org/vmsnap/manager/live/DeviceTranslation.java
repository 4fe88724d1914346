package org.vmsnap.manager.live;

import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

import org.vmsnap.manager.xml.DomainHardware;
import org.vmsnap.qmp.VmSpec;
import org.vmsnap.qmp.hw.AgentChannel;
import org.vmsnap.qmp.hw.Balloon;
import org.vmsnap.qmp.hw.Nic;
import org.vmsnap.qmp.hw.PciAddress;
import org.vmsnap.qmp.hw.Rng;
import org.vmsnap.qmp.hw.Serial;
import org.vmsnap.qmp.hw.UsbInput;
import org.vmsnap.qmp.hw.Video;
import org.vmsnap.qmp.hw.Vnc;

/** NICs, graphics and video, serial ports and consoles, the agent channel, input, balloon and RNG. */
final class DeviceTranslation {

    private final DomainHardware hw;
    private final Refusals refuse;
    private final ControllerTranslation controllers;
    private final DomainTranslator.Options options;

    DeviceTranslation(DomainHardware hw, Refusals refuse, ControllerTranslation controllers,
            DomainTranslator.Options options) {
        this.hw = hw;
        this.refuse = refuse;
        this.controllers = controllers;
        this.options = options;
    }

    void apply(VmSpec.Builder spec) {
        List<DomainHardware.Interface> nics = hw.interfaces();
        for (int i = 0; i < nics.size(); i++) {
            Nic nic = nic(nics.get(i), "net" + i, i == 0 ? hw.os().bootDevs().indexOf("network") : -1);
            if (nic != null) {
                spec.nic(nic);
            }
        }
        graphics(spec);
        videos(spec);
        serials(spec);
        channels(spec);
        inputs(spec);
        for (DomainHardware.Memballoon b : hw.memballoons()) {
            switch (String.valueOf(b.model())) {
                case "virtio" -> {
                    PciAddress pci = controllers.pci("<memballoon> ", b.address());
                    spec.balloon(new Balloon(pci));
                }
                case "none" -> {
                    // no balloon device
                }
                default -> refuse.add("<memballoon model='" + b.model() + "'> is not supported: use virtio or none");
            }
        }
        for (DomainHardware.Rng r : hw.rngs()) {
            Rng rng = rng(r);
            if (rng != null) {
                spec.rng(rng);
            }
        }
    }

    private Nic nic(DomainHardware.Interface i, String id, int bootDevIndex) {
        String type = String.valueOf(i.type());
        Nic.Backend backend = switch (type) {
            case "user" -> new Nic.User();
            case "bridge" -> i.sourceBridge() == null ? refuse.add("<interface type='bridge'> needs <source bridge=...>")
                    : bridge(i.sourceBridge());
            case "network" -> refuse.add("<interface type='network'> is not supported: use type='bridge' with the "
                    + "network's bridge, or type='user'");
            default -> refuse.add("<interface type='" + type + "'> is not supported: use type='bridge' or type='user'");
        };
        String model = switch (i.model() == null ? "rtl8139" : i.model()) {
            case "virtio" -> "virtio-net-pci";
            case "e1000" -> "e1000";
            case "e1000e" -> "e1000e";
            case "rtl8139" -> "rtl8139";
            default -> refuse.add("<interface><model type='" + i.model() + "'> is not supported: use virtio, e1000, "
                    + "e1000e or rtl8139");
        };
        if (i.mac() == null) {
            return refuse.add("<interface type='" + type + "'> has no <mac address=...>: add one (the guest sees it, "
                    + "so it must not change between starts)");
        }
        PciAddress pci = controllers.pci("<interface> ", i.address());
        if (backend == null || model == null || i.address() != null && pci == null) {
            return null;
        }
        Integer boot = i.bootOrder() != null ? i.bootOrder() : bootDevIndex >= 0 ? bootDevIndex + 1 : null;
        try {
            return new Nic(id, backend, model, i.mac().toLowerCase(Locale.ROOT), pci, boot);
        } catch (IllegalArgumentException e) {
            return refuse.add("<interface><mac address='" + i.mac() + "'> " + e.getMessage());
        }
    }

    private Nic.Backend bridge(String name) {
        try {
            return new Nic.Bridge(name, options.bridgeHelper());
        } catch (IllegalArgumentException e) {
            return refuse.add("<interface type='bridge'><source bridge='" + name + "'> is not a bridge name");
        }
    }

    private void graphics(VmSpec.Builder spec) {
        boolean vncSeen = false;
        for (DomainHardware.Graphics g : hw.graphics()) {
            String type = String.valueOf(g.type());
            if (!type.equals("vnc")) {
                refuse.add("<graphics type='" + type + "'> is not supported: use <graphics type='vnc'>"
                        + (type.equals("spice") ? " (and remove the SPICE channel, audio and redirdev)" : ""));
                continue;
            }
            if (vncSeen) {
                refuse.add("a second <graphics type='vnc'> is not supported");
                continue;
            }
            vncSeen = true;
            Vnc vnc = vnc(g);
            if (vnc != null) {
                spec.vnc(vnc);
            }
        }
    }

    /**
     * VNC on the listen address of the XML (127.0.0.1 when it names none) or its socket; with
     * autoport (or port -1) QEMU takes the first free port from 5900 on.
     */
    private Vnc vnc(DomainHardware.Graphics g) {
        if ("socket".equals(g.listenType())) {
            if (g.listenSocket() == null) {
                return refuse.add("<graphics type='vnc'><listen type='socket'> needs socket=... (vmsnap makes no "
                        + "socket path of its own)");
            }
            Path socket = Path.of(g.listenSocket());
            return socket.isAbsolute() ? new Vnc(null, null, socket)
                    : refuse.add("<graphics><listen socket='" + g.listenSocket() + "'> is not an absolute path");
        }
        if (g.listenType() != null && !g.listenType().equals("address")) {
            return refuse.add("<graphics type='vnc'><listen type='" + g.listenType() + "'> is not supported: use "
                    + "type='address' or type='socket'");
        }
        String host = g.listenAddress() != null ? g.listenAddress() : g.listenAttr() != null ? g.listenAttr() : "127.0.0.1";
        Integer display = null;
        boolean auto = "yes".equals(g.autoport()) || g.port() == null || g.port().equals("-1");
        if (!auto) {
            int port;
            try {
                port = Integer.parseInt(g.port());
            } catch (NumberFormatException e) {
                return refuse.add("<graphics type='vnc' port='" + g.port() + "'> is not a port number");
            }
            if (port < 5900 || port > 65535) {
                return refuse.add("<graphics type='vnc' port='" + port + "'> is not supported: use 5900..65535 or "
                        + "autoport='yes'");
            }
            display = port - 5900;
        }
        try {
            return new Vnc(host, display, null);
        } catch (IllegalArgumentException e) {
            return refuse.add("<graphics type='vnc' listen='" + host + "'> is not a listen address");
        }
    }

    private void videos(VmSpec.Builder spec) {
        List<DomainHardware.Video> videos = hw.videos();
        for (int i = 0; i < videos.size(); i++) {
            DomainHardware.Video v = videos.get(i);
            String type = String.valueOf(v.model());
            if (type.equals("none")) {
                continue;
            }
            Video.Model model = switch (type) {
                case "vga" -> Video.Model.VGA;
                case "cirrus" -> Video.Model.CIRRUS;
                case "bochs" -> Video.Model.BOCHS;
                case "virtio" -> Video.Model.VIRTIO;
                case "qxl" -> Video.Model.QXL;
                default -> refuse.add("<video><model type='" + type + "'> is not supported: use vga, virtio, qxl, "
                        + "bochs, cirrus or none");
            };
            boolean primary = "yes".equals(v.primary()) || i == 0 && videos.stream().noneMatch(x -> "yes".equals(x.primary()));
            PciAddress pci = controllers.pci("<video> ", v.address());
            if (model == null || v.address() != null && pci == null) {
                continue;
            }
            try {
                spec.video(new Video(model, primary, v.heads(), v.ram(), v.vram(), v.vram64(), v.vgamem(), pci));
            } catch (IllegalArgumentException e) {
                refuse.add("<video><model type='" + type + "'> " + e.getMessage());
            }
        }
    }

    /**
     * {@code <serial>}s, and {@code <console type='serial'>}s: a console on a serial port is
     * that port (libvirt writes both for one device), a console without one makes it.
     */
    private void serials(VmSpec.Builder spec) {
        Set<Integer> ports = new HashSet<>();
        List<DomainHardware.Chr> serials = hw.serials();
        for (int i = 0; i < serials.size(); i++) {
            DomainHardware.Chr s = serials.get(i);
            int port = s.targetPort() == null ? i : s.targetPort();
            if (s.targetType() != null && !s.targetType().equals("isa-serial")
                    || s.targetModel() != null && !s.targetModel().equals("isa-serial")) {
                refuse.add("<serial><target type='" + s.targetType() + "'> is not supported: use isa-serial");
                continue;
            }
            Serial serial = serial("<serial", s, port);
            if (serial != null) {
                spec.serial(serial);
                ports.add(port);
            }
        }
        for (DomainHardware.Chr c : hw.consoles()) {
            if (c.targetType() != null && !c.targetType().equals("serial")) {
                refuse.add("<console><target type='" + c.targetType() + "'> is not supported: use a serial console");
                continue;
            }
            int port = c.targetPort() == null ? 0 : c.targetPort();
            if (ports.contains(port)) {
                continue;
            }
            Serial serial = serial("<console", c, port);
            if (serial != null) {
                spec.serial(serial);
                ports.add(port);
            }
        }
    }

    private Serial serial(String tag, DomainHardware.Chr s, int port) {
        Serial.Sink sink = switch (String.valueOf(s.type())) {
            case "pty" -> new Serial.Pty();
            case "file" -> {
                if (s.sourcePath() == null || !Path.of(s.sourcePath()).isAbsolute()) {
                    yield refuse.add(tag + " type='file'> needs an absolute <source path=...>");
                }
                if (s.sourceAppend() != null && !s.sourceAppend().equals("on") && !s.sourceAppend().equals("off")) {
                    yield refuse.add(tag + "><source append='" + s.sourceAppend() + "'> must be on or off");
                }
                yield new Serial.File(Path.of(s.sourcePath()), "on".equals(s.sourceAppend()));
            }
            default -> refuse.add(tag + " type='" + s.type() + "'> is not supported: use type='pty' or type='file'");
        };
        if (sink == null) {
            return null;
        }
        try {
            return new Serial(port, sink);
        } catch (IllegalArgumentException e) {
            return refuse.add(tag + "><target port='" + port + "'> is not supported: use 0..3");
        }
    }

    private void channels(VmSpec.Builder spec) {
        boolean agent = false;
        for (DomainHardware.Channel c : hw.channels()) {
            String type = String.valueOf(c.type());
            if (type.equals("spicevmc")) {
                refuse.add("<channel type='spicevmc'> is not supported: remove it (vmsnap does not run SPICE)");
                continue;
            }
            if (!type.equals("unix") || !"virtio".equals(c.targetType())
                    || !AgentChannel.PORT_NAME.equals(c.targetName())) {
                refuse.add("<channel type='" + type + "'>" + (c.targetName() == null ? "" : " " + c.targetName())
                        + " is not supported: vmsnap carries only the guest agent's channel (unix, virtio, "
                        + AgentChannel.PORT_NAME + ")");
                continue;
            }
            if (agent) {
                refuse.add("a second guest agent <channel> is not supported");
                continue;
            }
            agent = true;
            if (c.sourceMode() != null && !c.sourceMode().equals("bind")) {
                refuse.add("<channel><source mode='" + c.sourceMode() + "'> is not supported: QEMU serves the agent's "
                        + "socket (mode='bind')");
                continue;
            }
            Path socket = c.sourcePath() == null ? null : Path.of(c.sourcePath());
            if (socket != null && !socket.isAbsolute()) {
                refuse.add("<channel><source path='" + c.sourcePath() + "'> is not an absolute path");
                continue;
            }
            Integer port = null;
            DomainHardware.Address a = c.address();
            if (a != null) {
                if (!"virtio-serial".equals(a.type()) || a.controller() != null && a.controller() != 0
                        || a.bus() != null && a.bus() != 0) {
                    refuse.add("<channel><address> must be type='virtio-serial' controller='0' bus='0'");
                    continue;
                }
                try {
                    port = a.port() == null ? null : Integer.decode(a.port());
                } catch (NumberFormatException e) {
                    refuse.add("<channel><address port='" + a.port() + "'> is not a number");
                    continue;
                }
            }
            try {
                spec.agent(new AgentChannel(socket, port));
            } catch (IllegalArgumentException e) {
                refuse.add("<channel><address port='" + port + "'> " + e.getMessage());
            }
        }
    }

    private void inputs(VmSpec.Builder spec) {
        for (DomainHardware.Input in : hw.inputs()) {
            String type = String.valueOf(in.type());
            String bus = in.bus() == null ? (type.equals("tablet") ? "usb" : "ps2") : in.bus();
            if (bus.equals("ps2") && (type.equals("mouse") || type.equals("keyboard"))) {
                continue; // part of pc and q35
            }
            UsbInput.Kind kind = switch (type) {
                case "tablet" -> UsbInput.Kind.TABLET;
                case "mouse" -> UsbInput.Kind.MOUSE;
                case "keyboard" -> UsbInput.Kind.KEYBOARD;
                default -> null;
            };
            if (kind == null || !bus.equals("usb")) {
                refuse.add("<input type='" + type + "' bus='" + bus + "'> is not supported: use bus='usb' (tablet, "
                        + "mouse, keyboard) or ps2 (mouse, keyboard)");
                continue;
            }
            DomainHardware.Address a = in.address();
            if (a != null && !"usb".equals(a.type())) {
                refuse.add("<input><address type='" + a.type() + "'> is not supported: use type='usb'");
                continue;
            }
            int usbBus = a == null || a.bus() == null ? 0 : a.bus();
            if (!controllers.hasUsb(usbBus)) {
                refuse.add("<input type='" + type + "' bus='usb'> needs a <controller type='usb' index='" + usbBus
                        + "'> with a model other than none");
                continue;
            }
            try {
                spec.input(new UsbInput(kind, usbBus, a == null ? null : a.port()));
            } catch (IllegalArgumentException e) {
                refuse.add("<input><address port='" + a.port() + "'> " + e.getMessage());
            }
        }
    }

    private Rng rng(DomainHardware.Rng r) {
        if (!"virtio".equals(r.model())) {
            return refuse.add("<rng model='" + r.model() + "'> is not supported: use virtio");
        }
        if (!"random".equals(r.backendModel())) {
            return refuse.add("<rng><backend model='" + r.backendModel() + "'> is not supported: use random");
        }
        String source = r.backend() == null || r.backend().isEmpty() ? "/dev/urandom" : r.backend();
        if (!source.equals("/dev/urandom") && !source.equals("/dev/random") && !source.equals("/dev/hwrng")) {
            return refuse.add("<rng><backend>" + source + "</backend> is not supported: use /dev/urandom, /dev/random "
                    + "or /dev/hwrng");
        }
        PciAddress pci = controllers.pci("<rng> ", r.address());
        if (r.address() != null && pci == null) {
            return null;
        }
        try {
            return new Rng(Path.of(source), r.rateBytes(), r.ratePeriod(), pci);
        } catch (IllegalArgumentException e) {
            return refuse.add("<rng><rate> " + e.getMessage());
        }
    }
}
