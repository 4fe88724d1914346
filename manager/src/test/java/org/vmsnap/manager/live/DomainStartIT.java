package org.vmsnap.manager.live;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.manager.xml.Domain;
import org.vmsnap.qmp.GuestAgentClient;
import org.vmsnap.qmp.QemuProcess;
import org.vmsnap.qmp.QmpClient;
import org.vmsnap.qmp.VmSpec;
import org.vmsnap.qmp.hw.BlockLayer;
import org.vmsnap.testkit.QemuImg;
import org.vmsnap.testkit.QemuTools;
import org.vmsnap.testkit.TestGuest;

/**
 * Domain XML to a running QEMU 7.2, with QEMU as the judge: what it built (block graph, PCI
 * devices, chardevs, MAC, VNC) is read back through QMP; the test guest boots from a domain XML
 * to its writer, and SeaBIOS boots a disk by its boot order.
 */
class DomainStartIT {

    private static final Duration QMP = Duration.ofSeconds(30);
    private static final Duration BOOT = Duration.ofSeconds(120);

    @TempDir
    Path dir;

    private final List<QemuProcess> started = new ArrayList<>();

    @AfterEach
    void stopAll() throws Exception {
        for (QemuProcess q : started) {
            if (q.isAlive()) {
                q.kill();
            }
            q.close();
        }
    }

    private static DomainTranslator.Options options() {
        String forced = System.getenv("VMSNAP_TEST_ACCEL");
        return new DomainTranslator.Options(forced == null || forced.isBlank() ? null
                : VmSpec.Accel.valueOf(forced.toUpperCase()), DomainTranslator.Options.DEBIAN_BRIDGE_HELPER);
    }

    private QemuProcess start(String xml, Map<String, List<BlockLayer>> chains, String run) throws Exception {
        VmSpec spec = DomainTranslator.translate(Domain.parse(xml), chains, options());
        QemuProcess q = QemuProcess.start(spec, dir.resolve(run), QMP);
        started.add(q);
        return q;
    }

    private static JsonNode qmp(QemuProcess q, String command) throws Exception {
        return q.qmp().execute(command, null, QMP);
    }

    private static JsonNode qmp(QemuProcess q, String command, ObjectNode args) throws Exception {
        return q.qmp().execute(command, args, QMP);
    }

    /** The test guest's domain: direct kernel boot, vda (ext4) over a 2-layer chain, vdb, the agent, a serial file. */
    static String testGuestXml(Path top, Path scratch, Path log) {
        TestGuest guest = TestGuest.get();
        return """
                <domain type='kvm'>
                  <name>guest</name>
                  <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>
                  <memory unit='MiB'>256</memory>
                  <vcpu placement='static'>1</vcpu>
                  <os>
                    <type arch='x86_64' machine='pc'>hvm</type>
                    <kernel>%s</kernel>
                    <initrd>%s</initrd>
                    <cmdline>%s</cmdline>
                  </os>
                  <features>
                    <acpi/>
                    <apic/>
                  </features>
                  <cpu mode='host-passthrough'/>
                  <on_poweroff>destroy</on_poweroff>
                  <on_reboot>destroy</on_reboot>
                  <on_crash>destroy</on_crash>
                  <devices>
                    <disk type='file' device='disk'>
                      <driver name='qemu' type='qcow2'/>
                      <source file='%s'/>
                      <target dev='vda' bus='virtio'/>
                    </disk>
                    <disk type='file' device='disk'>
                      <driver name='qemu' type='qcow2' discard='unmap'/>
                      <source file='%s'/>
                      <target dev='vdb' bus='virtio'/>
                    </disk>
                    <serial type='file'>
                      <source path='%s' append='on'/>
                      <target port='0'/>
                    </serial>
                    <console type='file'>
                      <source path='%s'/>
                      <target type='serial' port='0'/>
                    </console>
                    <channel type='unix'>
                      <target type='virtio' name='org.qemu.guest_agent.0'/>
                    </channel>
                    <memballoon model='virtio'/>
                  </devices>
                </domain>
                """.formatted(guest.kernel(), guest.initrd(), TestGuest.KERNEL_ARGS, top, scratch, log, log);
    }

    @Test
    void theTestGuestBootsFromADomainXml_everyLayerOfItsChainNamedAsGiven() throws Exception {
        Path base = dir.resolve("data.qcow2");
        TestGuest.createDataDisk(base, 32);
        Path top = dir.resolve("data.s1.qcow2");
        QemuImg.createOverlay(top, base, "qcow2");
        Path scratch = dir.resolve("scratch.qcow2");
        QemuImg.create(scratch, "qcow2", 16L << 20);
        Path log = dir.resolve("serial.log");
        Map<String, List<BlockLayer>> chains = new LinkedHashMap<>();
        chains.put("vda", List.of(BlockLayer.of(top, BlockLayer.Format.QCOW2, "vmsnap-2"),
                BlockLayer.of(base, BlockLayer.Format.QCOW2, "vmsnap-1")));
        chains.put("vdb", List.of(BlockLayer.of(scratch, BlockLayer.Format.QCOW2, "vmsnap-3")));
        String xml = testGuestXml(top, scratch, log);
        Path xmlFile = dir.resolve("guest.xml");
        Files.writeString(xmlFile, xml);
        // the same XML is valid for libvirt
        QemuTools.run(List.of("virt-xml-validate", xmlFile.toString(), "domain")).requireSuccess();

        QemuProcess q = start(xml, chains, "run");
        TestGuest.awaitSerial(log, 0, TestGuest.READY_LINE, BOOT);

        Map<String, JsonNode> nodes = new HashMap<>();
        for (JsonNode n : qmp(q, "query-named-block-nodes", QmpClient.arguments().put("flat", true))) {
            nodes.put(n.path("node-name").asText(), n);
        }
        assertThat(nodes.keySet()).contains("vmsnap-1-format", "vmsnap-1-storage", "vmsnap-2-format",
                "vmsnap-2-storage", "vmsnap-3-format", "vmsnap-3-storage");
        assertThat(nodes.get("vmsnap-1-storage").path("file").asText()).isEqualTo(base.toString());
        assertThat(nodes.get("vmsnap-2-storage").path("file").asText()).isEqualTo(top.toString());
        assertThat(nodes.get("vmsnap-1-format").path("ro").asBoolean()).as("the backing layer").isTrue();
        assertThat(nodes.get("vmsnap-2-format").path("ro").asBoolean()).isFalse();
        assertThat(edges(q)).contains("vmsnap-2-format -file-> vmsnap-2-storage",
                "vmsnap-2-format -backing-> vmsnap-1-format", "vmsnap-1-format -file-> vmsnap-1-storage",
                "vmsnap-3-format -file-> vmsnap-3-storage")
                .noneMatch(e -> e.startsWith("vmsnap-1-format -backing->") || e.startsWith("vmsnap-3-format -backing->"));
        Map<String, String> attached = new HashMap<>();
        for (JsonNode b : qmp(q, "query-block")) {
            attached.put(b.path("qdev").asText(), b.path("inserted").path("node-name").asText());
        }
        assertThat(attached).containsEntry("/machine/peripheral/vda/virtio-backend", "vmsnap-2-format")
                .containsEntry("/machine/peripheral/vdb/virtio-backend", "vmsnap-3-format");
        try (GuestAgentClient agent = q.connectAgent(QMP)) {
            agent.ping();
        }
        assertThat(qmp(q, "qom-get", QmpClient.arguments().put("path", "/machine").put("property", "type")).asText())
                .isEqualTo("pc-i440fx-7.2-machine");
        assertThat(q.quit()).isEqualTo(QemuProcess.Stopped.QUIT);
    }

    /** "parent -name-> child" for every edge of QEMU's block graph, by node name. */
    private static List<String> edges(QemuProcess q) throws Exception {
        JsonNode graph = qmp(q, "x-debug-query-block-graph");
        Map<Long, String> names = new HashMap<>();
        for (JsonNode n : graph.path("nodes")) {
            names.put(n.path("id").asLong(), n.path("name").asText());
        }
        List<String> out = new ArrayList<>();
        for (JsonNode e : graph.path("edges")) {
            out.add(names.get(e.path("parent").asLong()) + " -" + e.path("name").asText() + "-> "
                    + names.get(e.path("child").asLong()));
        }
        return out;
    }

    @Test
    void aQ35DomainWithEveryDeviceKindIsBuiltAsTheXmlSays_uefiPaused() throws Exception {
        Path vars = dir.resolve("VARS.fd");
        Files.copy(Path.of("/usr/share/OVMF/OVMF_VARS_4M.fd"), vars);
        Path disk = dir.resolve("root.qcow2");
        QemuImg.create(disk, "qcow2", 64L << 20);
        Path iso = dir.resolve("cd.iso");
        QemuImg.create(iso, "raw", 1L << 20);
        Path lun = dir.resolve("lun.raw");
        QemuImg.create(lun, "raw", 8L << 20);
        Path agent = dir.resolve("agent.sock");
        StringBuilder ports = new StringBuilder();
        for (int i = 1; i <= 6; i++) {
            ports.append("<controller type='pci' index='%d' model='pcie-root-port'><model name='pcie-root-port'/>".formatted(i))
                    .append("<target chassis='%d' port='0x%x'/>".formatted(i, 0x10 + i - 1))
                    .append("<address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x%x'%s/></controller>"
                            .formatted(i - 1, i == 1 ? " multifunction='on'" : ""));
        }
        String xml = """
                <domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
                  <name>q35 all</name>
                  <memory unit='MiB'>512</memory>
                  <currentMemory unit='MiB'>384</currentMemory>
                  <vcpu placement='static' current='1'>2</vcpu>
                  <os>
                    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
                    <loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader>
                    <nvram>%s</nvram>
                  </os>
                  <features><acpi/><apic/><vmport state='off'/></features>
                  <cpu mode='host-passthrough' check='none' migratable='on'/>
                  <clock offset='utc'><timer name='rtc' tickpolicy='catchup'/><timer name='pit' tickpolicy='delay'/><timer name='hpet' present='no'/></clock>
                  <pm><suspend-to-mem enabled='no'/><suspend-to-disk enabled='no'/></pm>
                  <devices>
                    <emulator>/usr/bin/qemu-system-x86_64</emulator>
                    <disk type='file' device='disk'>
                      <driver name='qemu' type='qcow2' cache='none' discard='unmap'/>
                      <source file='%s'/>
                      <target dev='vda' bus='virtio'/>
                      <boot order='1'/>
                      <address type='pci' domain='0x0000' bus='0x04' slot='0x00' function='0x0'/>
                    </disk>
                    <disk type='file' device='cdrom'>
                      <driver name='qemu' type='raw'/>
                      <source file='%s'/>
                      <target dev='sda' bus='sata'/>
                      <readonly/>
                      <address type='drive' controller='0' bus='0' target='0' unit='0'/>
                    </disk>
                    <disk type='file' device='cdrom'>
                      <target dev='sdb' bus='sata'/>
                      <readonly/>
                    </disk>
                    <disk type='file' device='disk'>
                      <driver name='qemu' type='raw'/>
                      <source file='%s'/>
                      <target dev='sdc' bus='scsi'/>
                      <address type='drive' controller='0' bus='0' target='0' unit='2'/>
                    </disk>
                    %s
                    <controller type='pci' index='0' model='pcie-root'/>
                    <controller type='usb' index='0' model='qemu-xhci' ports='15'>
                      <address type='pci' domain='0x0000' bus='0x02' slot='0x00' function='0x0'/>
                    </controller>
                    <controller type='sata' index='0'>
                      <address type='pci' domain='0x0000' bus='0x00' slot='0x1f' function='0x2'/>
                    </controller>
                    <controller type='scsi' index='0' model='virtio-scsi'>
                      <address type='pci' domain='0x0000' bus='0x05' slot='0x00' function='0x0'/>
                    </controller>
                    <controller type='virtio-serial' index='0'>
                      <address type='pci' domain='0x0000' bus='0x03' slot='0x00' function='0x0'/>
                    </controller>
                    <interface type='user'>
                      <mac address='52:54:00:12:34:56'/>
                      <model type='virtio'/>
                      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
                    </interface>
                    <serial type='pty'><target type='isa-serial' port='0'><model name='isa-serial'/></target></serial>
                    <console type='pty'><target type='serial' port='0'/></console>
                    <channel type='unix'>
                      <source mode='bind' path='%s'/>
                      <target type='virtio' name='org.qemu.guest_agent.0'/>
                      <address type='virtio-serial' controller='0' bus='0' port='1'/>
                    </channel>
                    <input type='tablet' bus='usb'><address type='usb' bus='0' port='1'/></input>
                    <input type='mouse' bus='ps2'/>
                    <input type='keyboard' bus='ps2'/>
                    <graphics type='vnc' port='-1' autoport='yes'><listen type='address' address='127.0.0.1'/></graphics>
                    <video><model type='virtio' heads='1' primary='yes'/><address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x0'/></video>
                    <memballoon model='virtio'><address type='pci' domain='0x0000' bus='0x06' slot='0x00' function='0x0'/></memballoon>
                    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
                  </devices>
                  <qemu:commandline><qemu:arg value='-S'/><qemu:env name='VMSNAP_TEST_ENV' value='seen'/></qemu:commandline>
                </domain>
                """.formatted(vars, disk, iso, lun, ports, agent);
        Map<String, List<BlockLayer>> chains = Map.of(
                "vda", List.of(BlockLayer.of(disk, BlockLayer.Format.QCOW2, "vmsnap-1")),
                "sda", List.of(BlockLayer.of(iso, BlockLayer.Format.RAW, "vmsnap-2")),
                "sdc", List.of(BlockLayer.of(lun, BlockLayer.Format.RAW, "vmsnap-3")));
        QemuProcess q = start(xml, chains, "run");
        assertThat(qmp(q, "query-status").path("status").asText()).isEqualTo("prelaunch");
        assertThat(qmp(q, "qom-get", QmpClient.arguments().put("path", "/machine").put("property", "type")).asText())
                .isEqualTo("pc-q35-7.2-machine");
        assertThat(qmp(q, "qom-get", QmpClient.arguments().put("path", "/machine/peripheral/net0").put("property", "mac"))
                .asText()).isEqualTo("52:54:00:12:34:56");
        // PCI: each device on the bus and slot the XML names (QOM: before the firmware numbers the buses)
        assertThat(placed(q, "pci.1")).isEqualTo("pcie.0/02.0");
        assertThat(placed(q, "pci.6")).isEqualTo("pcie.0/02.5");
        assertThat(placed(q, "video0")).isEqualTo("pcie.0/01.0");
        assertThat(placed(q, "net0")).isEqualTo("pci.1/00.0");
        assertThat(placed(q, "usb")).isEqualTo("pci.2/00.0");
        assertThat(placed(q, "virtio-serial0")).isEqualTo("pci.3/00.0");
        assertThat(placed(q, "vda")).isEqualTo("pci.4/00.0");
        assertThat(placed(q, "scsi0")).isEqualTo("pci.5/00.0");
        assertThat(placed(q, "balloon0")).isEqualTo("pci.6/00.0");
        assertThat(placed(q, "rng0")).startsWith("pcie.0/");
        Map<String, String> chardevs = new HashMap<>();
        for (JsonNode c : qmp(q, "query-chardev")) {
            chardevs.put(c.path("label").asText(), c.path("filename").asText());
        }
        assertThat(chardevs.get("charserial0")).startsWith("pty:/dev/pts/");
        assertThat(chardevs.get("charchannel0")).contains("unix:" + agent + ",server=on");
        Map<String, JsonNode> nodes = new HashMap<>();
        for (JsonNode n : qmp(q, "query-named-block-nodes", QmpClient.arguments().put("flat", true))) {
            nodes.put(n.path("node-name").asText(), n);
        }
        assertThat(nodes.get("pflash0-format").path("ro").asBoolean()).isTrue();
        assertThat(nodes.get("pflash1-storage").path("file").asText()).isEqualTo(vars.toString());
        assertThat(nodes.get("vmsnap-2-format").path("ro").asBoolean()).as("a CD-ROM").isTrue();
        assertThat(nodes.get("vmsnap-1-format").path("cache").path("direct").asBoolean()).isTrue();
        Map<String, String> attached = new HashMap<>();
        for (JsonNode b : qmp(q, "query-block")) {
            attached.put(b.path("qdev").asText(), b.path("inserted").path("node-name").asText(""));
        }
        assertThat(attached).containsEntry("sda", "vmsnap-2-format").containsEntry("sdb", "")
                .containsEntry("sdc", "vmsnap-3-format");
        int vnc = qmp(q, "query-vnc").path("service").asInt();
        assertThat(vnc).isBetween(5900, 5999);
        assertThat(qmp(q, "query-cpus-fast").size()).as("current vCPUs").isEqualTo(1);
        assertThat(qmp(q, "query-hotpluggable-cpus").size()).as("maximum vCPUs").isEqualTo(2);
        String environ = new String(Files.readAllBytes(Path.of("/proc", Long.toString(q.pid()), "environ")),
                StandardCharsets.UTF_8);
        assertThat(environ).contains("VMSNAP_TEST_ENV=seen");
        List<String> peripherals = new ArrayList<>();
        for (JsonNode p : qmp(q, "qom-list", QmpClient.arguments().put("path", "/machine/peripheral"))) {
            peripherals.add(p.path("name").asText());
        }
        assertThat(peripherals).contains("input0", "channel0", "serial0", "sda", "sdb", "sdc");
        assertThat(q.quit()).isEqualTo(QemuProcess.Stopped.QUIT);
    }

    /** Where QEMU put device {@code id}: "parent bus/slot.function". */
    private static String placed(QemuProcess q, String id) throws Exception {
        String path = "/machine/peripheral/" + id;
        String bus = qmp(q, "qom-get", QmpClient.arguments().put("path", path).put("property", "parent_bus")).asText();
        JsonNode addr = qmp(q, "qom-get", QmpClient.arguments().put("path", path).put("property", "addr"));
        int devfn = addr.isInt() ? addr.asInt() : Integer.decode(addr.asText());
        return bus.substring(bus.lastIndexOf('/') + 1) + "/" + String.format("%02x.%x", devfn >> 3, devfn & 7);
    }

    @Test
    void seabiosBootsAPcDiskByItsBootOrder_ideSataUsbCompanionsAndE1000Accepted() throws Exception {
        // a boot sector that halts; SeaBIOS reports on its debug port (0x402), added by <qemu:commandline>
        Path boot = dir.resolve("boot.raw");
        byte[] sector = new byte[512];
        sector[0] = (byte) 0xfa; // cli
        sector[1] = (byte) 0xf4; // hlt
        sector[2] = (byte) 0xeb; // jmp $-1 (back to hlt)
        sector[3] = (byte) 0xfd;
        sector[510] = 0x55;
        sector[511] = (byte) 0xaa;
        Files.write(boot, sector);
        QemuTools.run(List.of("truncate", "-s", "1M", boot.toString())).requireSuccess();
        Path ide = dir.resolve("ide.qcow2");
        QemuImg.create(ide, "qcow2", 16L << 20);
        Path log = dir.resolve("bios.log");
        Path debug = dir.resolve("seabios.log");
        String xml = """
                <domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
                  <name>bios</name>
                  <memory unit='MiB'>128</memory>
                  <os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type><bootmenu enable='no'/></os>
                  <features><acpi/><apic/></features>
                  <on_poweroff>preserve</on_poweroff>
                  <devices>
                    <disk type='file' device='disk'>
                      <driver name='qemu' type='raw'/>
                      <source file='%s'/>
                      <target dev='sda' bus='sata'/>
                      <boot order='1'/>
                    </disk>
                    <disk type='file' device='disk'>
                      <driver name='qemu' type='qcow2'/>
                      <source file='%s'/>
                      <target dev='hda' bus='ide'/>
                    </disk>
                    <disk type='file' device='cdrom'>
                      <target dev='hdc' bus='ide'/>
                      <readonly/>
                    </disk>
                    <controller type='ide' index='0'/>
                    <controller type='sata' index='0'/>
                    <controller type='usb' index='0' model='ich9-ehci1'>
                      <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x7'/>
                    </controller>
                    <controller type='usb' index='0' model='ich9-uhci1'>
                      <master startport='0'/>
                      <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0' multifunction='on'/>
                    </controller>
                    <interface type='user'>
                      <mac address='52:54:00:00:00:0b'/>
                      <model type='e1000'/>
                    </interface>
                    <serial type='file'><source path='%s'/><target port='0'/></serial>
                    <video><model type='vga' vram='16384' heads='1' primary='yes'/></video>
                    <memballoon model='none'/>
                  </devices>
                  <qemu:commandline>
                    <qemu:arg value='-chardev'/>
                    <qemu:arg value='file,id=seabios,path=%s'/>
                    <qemu:arg value='-device'/>
                    <qemu:arg value='isa-debugcon,iobase=0x402,chardev=seabios'/>
                  </qemu:commandline>
                </domain>
                """.formatted(boot, ide, log, debug);
        QemuProcess q = start(xml, Map.of("sda", List.of(BlockLayer.of(boot, BlockLayer.Format.RAW, "vmsnap-1")),
                "hda", List.of(BlockLayer.of(ide, BlockLayer.Format.QCOW2, "vmsnap-2"))), "run");
        String text = TestGuest.awaitSerial(debug, 0, "Booting from 0000:7c00", BOOT);
        assertThat(text).contains("SeaBIOS (version", "Booting from Hard Disk...");
        assertThat(log).as("the serial port's file").exists();
        assertThat(qmp(q, "qom-get", QmpClient.arguments().put("path", "/machine/peripheral/net0").put("property", "mac"))
                .asText()).isEqualTo("52:54:00:00:00:0b");
        assertThat(q.quit()).isEqualTo(QemuProcess.Stopped.QUIT);
        assertThat(q.waitForExit(Duration.ofSeconds(10))).isTrue();
    }
}
