package org.vmsnap.qmp;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Comparator;
import java.util.List;
import org.vmsnap.qmp.hw.AgentChannel;
import org.vmsnap.qmp.hw.DriveAddress;
import org.vmsnap.qmp.hw.Nic;
import org.vmsnap.qmp.hw.PciAddress;
import org.vmsnap.qmp.hw.PciController;
import org.vmsnap.qmp.hw.Rng;
import org.vmsnap.qmp.hw.Serial;
import org.vmsnap.qmp.hw.StorageController;
import org.vmsnap.qmp.hw.UsbController;
import org.vmsnap.qmp.hw.UsbInput;
import org.vmsnap.qmp.hw.Video;
import org.vmsnap.qmp.hw.VirtioSerial;
import org.vmsnap.qmp.hw.Vnc;

/**
 * Every {@code -device} but disks, with their backends: controllers first (a device names its
 * bus, which must exist), then NICs, display, serial ports, the agent channel, balloon, RNGs
 * and USB input. Device ids follow libvirt's aliases where QMP users look for them
 * ({@code net0}, {@code charserial0}, {@code balloon0}).
 */
final class DeviceArgs {

    private final VmSpec spec;
    private final RunFolder run;

    DeviceArgs(VmSpec spec, RunFolder run) {
        this.spec = spec;
        this.run = run;
    }

    /** Puts a PCI device on its bus and slot; without an address QEMU picks a free slot on the root bus. */
    void place(ObjectNode device, PciAddress address) {
        if (address == null) {
            return;
        }
        device.put("bus", address.bus() == 0 ? spec.machine().rootBus() : "pci." + address.bus());
        if (address.multifunction()) {
            device.put("multifunction", true);
        }
        device.put("addr", address.qemuAddr());
    }

    /** q35's built-in AHCI names its ports {@code ide.0..5}; an added one {@code sata<index>.<port>}. */
    String sataBus(DriveAddress a) {
        return spec.machine().isQ35() && a.controller() == 0 ? "ide." + a.unit() : "sata" + a.controller() + "." + a.unit();
    }

    void controllers(List<String> cmd) {
        // a controller's parent bus has a lower index (libvirt numbers them that way)
        for (PciController c : spec.pciControllers().stream().sorted(Comparator.comparingInt(PciController::index)).toList()) {
            ObjectNode d = Json.object().put("driver", c.model().driver());
            if (c.model() == PciController.Model.PCIE_ROOT_PORT) {
                if (c.port() != null) {
                    d.put("port", c.port());
                }
                if (c.chassis() != null) {
                    d.put("chassis", c.chassis());
                }
            } else if (c.model() == PciController.Model.PCI_BRIDGE) {
                d.put("chassis_nr", c.chassis() == null ? c.index() : c.chassis());
            }
            d.put("id", c.id());
            place(d, c.address());
            device(cmd, d);
        }
        for (UsbController c : spec.usbControllers()) {
            ObjectNode d = Json.object().put("driver", c.driver());
            if (c.isCompanion()) {
                d.put("masterbus", c.id() + ".0").put("firstport", c.companionFirstPort());
            } else {
                d.put("id", c.id());
            }
            if (c.ports() != null && c.driver().endsWith("xhci")) {
                d.put("p2", c.ports()).put("p3", c.ports());
            }
            place(d, c.address());
            device(cmd, d);
        }
        for (StorageController c : spec.storageControllers()) {
            ObjectNode d = Json.object().put("driver", c.kind() == StorageController.Kind.AHCI ? "ahci" : "virtio-scsi-pci")
                    .put("id", c.id());
            place(d, c.address());
            device(cmd, d);
        }
        VirtioSerial vs = spec.virtioSerial();
        if (vs != null || spec.agent() != null) {
            ObjectNode d = Json.object().put("driver", "virtio-serial-pci").put("id", VirtioSerial.ID);
            place(d, vs == null ? null : vs.pci());
            device(cmd, d);
        }
    }

    /** Everything after the controllers and disks. */
    void rest(List<String> cmd) {
        for (Nic nic : spec.nics()) {
            nic(cmd, nic);
        }
        display(cmd);
        for (Serial serial : spec.serials()) {
            cmd.addAll(List.of("-chardev", chardev(serial)));
            device(cmd, Json.object().put("driver", "isa-serial").put("chardev", serial.chardevId())
                    .put("id", serial.deviceId()).put("index", serial.port()));
        }
        AgentChannel agent = spec.agent();
        if (agent != null) {
            cmd.addAll(List.of("-chardev", "socket,id=charchannel0,path="
                    + QemuCommandLine.escape(QemuCommandLine.agentSocket(spec, run)) + ",server=on,wait=off"));
            ObjectNode d = Json.object().put("driver", "virtserialport").put("bus", VirtioSerial.ID + ".0");
            if (agent.port() != null) {
                d.put("nr", agent.port());
            }
            device(cmd, d.put("chardev", "charchannel0").put("id", "channel0").put("name", AgentChannel.PORT_NAME));
        }
        if (spec.balloon() != null) {
            ObjectNode d = Json.object().put("driver", "virtio-balloon-pci").put("id", "balloon0");
            place(d, spec.balloon().pci());
            device(cmd, d);
        }
        for (int i = 0; i < spec.rngs().size(); i++) {
            Rng rng = spec.rngs().get(i);
            cmd.addAll(List.of("-object", Json.write(Json.object().put("qom-type", "rng-random").put("id", "objrng" + i)
                    .put("filename", rng.source().toString()))));
            ObjectNode d = Json.object().put("driver", "virtio-rng-pci").put("rng", "objrng" + i).put("id", "rng" + i);
            if (rng.maxBytes() != null) {
                d.put("max-bytes", rng.maxBytes()).put("period", rng.periodMillis() == null ? 1000 : rng.periodMillis());
            }
            place(d, rng.pci());
            device(cmd, d);
        }
        for (int i = 0; i < spec.inputs().size(); i++) {
            UsbInput in = spec.inputs().get(i);
            ObjectNode d = Json.object().put("driver", in.kind().driver).put("id", "input" + i)
                    .put("bus", (in.bus() == 0 ? "usb" : "usb" + in.bus()) + ".0");
            if (in.port() != null) {
                d.put("port", in.port());
            }
            device(cmd, d);
        }
    }

    private void nic(List<String> cmd, Nic nic) {
        ObjectNode netdev = Json.object();
        switch (nic.backend()) {
            case Nic.User u -> netdev.put("type", "user").put("id", nic.netdevId());
            case Nic.Bridge b -> netdev.put("type", "bridge").put("id", nic.netdevId()).put("br", b.bridge())
                    .put("helper", b.helper().toString());
        }
        cmd.addAll(List.of("-netdev", Json.write(netdev)));
        ObjectNode d = Json.object().put("driver", nic.model()).put("netdev", nic.netdevId()).put("id", nic.id())
                .put("mac", nic.mac());
        place(d, nic.pci());
        if (nic.bootIndex() != null) {
            d.put("bootindex", nic.bootIndex());
        }
        device(cmd, d);
    }

    private void display(List<String> cmd) {
        Vnc vnc = spec.vnc();
        if (vnc != null) {
            String where;
            if (vnc.socket() != null) {
                where = "unix:" + QemuCommandLine.escape(vnc.socket());
            } else {
                String host = vnc.host().contains(":") ? "[" + vnc.host() + "]" : vnc.host();
                where = host + ":" + (vnc.display() == null ? "0,to=" + Vnc.AUTO_LAST_DISPLAY : vnc.display());
            }
            cmd.addAll(List.of("-vnc", where));
        }
        for (int i = 0; i < spec.videos().size(); i++) {
            Video v = spec.videos().get(i);
            ObjectNode d = Json.object().put("driver", videoDriver(v)).put("id", "video" + i);
            switch (v.model()) {
                case VGA, CIRRUS -> {
                    if (v.vramKiB() != null) {
                        d.put("vgamem_mb", v.vramKiB() / 1024);
                    }
                }
                case BOCHS -> {
                    if (v.vramKiB() != null) {
                        d.put("vgamem", v.vramKiB() * 1024);
                    }
                }
                case VIRTIO -> {
                    if (v.heads() != null) {
                        d.put("max_outputs", v.heads());
                    }
                }
                case QXL -> {
                    if (v.ramKiB() != null) {
                        d.put("ram_size", v.ramKiB() * 1024);
                    }
                    if (v.vramKiB() != null) {
                        d.put("vram_size", v.vramKiB() * 1024);
                    }
                    if (v.vram64KiB() != null) {
                        d.put("vram64_size_mb", v.vram64KiB() / 1024);
                    }
                    if (v.vgamemKiB() != null) {
                        d.put("vgamem_mb", v.vgamemKiB() / 1024);
                    }
                    if (v.heads() != null) {
                        d.put("max_outputs", v.heads());
                    }
                }
                default -> throw new AssertionError(v.model());
            }
            place(d, v.pci());
            device(cmd, d);
        }
    }

    private static String videoDriver(Video v) {
        return switch (v.model()) {
            case VGA -> "VGA";
            case CIRRUS -> "cirrus-vga";
            case BOCHS -> "bochs-display";
            case VIRTIO -> v.primary() ? "virtio-vga" : "virtio-gpu-pci";
            case QXL -> v.primary() ? "qxl-vga" : "qxl";
        };
    }

    private String chardev(Serial serial) {
        String id = serial.chardevId();
        return switch (serial.sink()) {
            case Serial.Pty p -> "pty,id=" + id;
            case Serial.File f -> "file,id=" + id + ",path=" + QemuCommandLine.escape(f.path()) + ",append="
                    + QemuCommandLine.onOff(f.append());
            // append: a restarted or restored VM continues the same log
            case Serial.RunLog l -> "file,id=" + id + ",path=" + QemuCommandLine.escape(run.serialLog()) + ",append=on";
        };
    }

    private static void device(List<String> cmd, ObjectNode device) {
        cmd.addAll(List.of("-device", Json.write(device)));
    }
}
