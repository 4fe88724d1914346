package org.vmsnap.manager.live;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.vmsnap.manager.xml.Domain;
import org.vmsnap.qmp.QemuProcess;
import org.vmsnap.qmp.VmSpec;
import org.vmsnap.qmp.hw.BlockLayer;
import org.vmsnap.qmp.hw.Cpu;
import org.vmsnap.qmp.hw.Disk;
import org.vmsnap.qmp.hw.Firmware;
import org.vmsnap.qmp.hw.Lifecycle;
import org.vmsnap.qmp.hw.Serial;

/** Domain XML in, VmSpec and QEMU argv out; every refusal with its exact line. */
class DomainTranslatorTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final DomainTranslator.Options TCG = new DomainTranslator.Options(VmSpec.Accel.TCG,
            DomainTranslator.Options.DEBIAN_BRIDGE_HELPER);

    /** A small domain; {@code devices} and {@code extra} (after {@code <os>}) are spliced in. */
    static String xml(String os, String extra, String devices) {
        return "<domain type='kvm'><name>vm</name><uuid>1b4e28ba-2fa1-11d2-883f-0016d3cca427</uuid>"
                + "<memory unit='MiB'>256</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type>" + os
                + "</os>" + extra + "<devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
                + "<source file='/i/vda.qcow2'/><target dev='vda' bus='virtio'/></disk>" + devices + "</devices></domain>";
    }

    static Map<String, List<BlockLayer>> chains() {
        Map<String, List<BlockLayer>> chains = new LinkedHashMap<>();
        chains.put("vda", List.of(BlockLayer.of(Path.of("/i/vda.qcow2"), BlockLayer.Format.QCOW2, "vmsnap-1")));
        return chains;
    }

    static VmSpec translate(String xml) throws Exception {
        return DomainTranslator.translate(Domain.parse(xml), chains(), TCG);
    }

    static List<String> refusals(String xml) throws Exception {
        try {
            DomainTranslator.translate(Domain.parse(xml), chains(), DomainTranslator.Options.defaults());
        } catch (UnsupportedDomainException e) {
            return e.lines();
        }
        throw new AssertionError("not refused: " + xml);
    }

    static List<String> argv(VmSpec spec) {
        return QemuProcess.commandLine(spec, Path.of("/run/vm"), false);
    }

    static JsonNode device(List<String> cmd, String id) throws IOException {
        for (int i = 0; i < cmd.size() - 1; i++) {
            if (cmd.get(i).equals("-device")) {
                JsonNode d = JSON.readTree(cmd.get(i + 1));
                if (d.path("id").asText().equals(id)) {
                    return d;
                }
            }
        }
        throw new AssertionError("no device " + id + " in " + cmd);
    }

    static String fixture(String name) throws IOException {
        try (InputStream in = DomainTranslatorTest.class.getResourceAsStream("/libvirt/" + name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void aTypicalVirtInstallDomainOnTheDefaultNetworkIsRefusedWithOneLineSayingWhatToChange() throws Exception {
        StringBuilder ports = new StringBuilder();
        for (int i = 2; i <= 8; i++) {
            ports.append("<controller type='pci' index='").append(i).append("' model='pcie-root-port'><model name='pcie-root-port'/>")
                    .append("<target chassis='").append(i).append("' port='0x").append(Integer.toHexString(0x10 + i - 1))
                    .append("'/><address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x")
                    .append(i - 1).append("'/></controller>");
        }
        // the fixture is cut short: a full virt-install domain has a root port per PCIe device
        String web01 = fixture("domain-web01.xml").replace("<controller type='virtio-serial'", ports + "<controller type='virtio-serial'");
        Map<String, List<BlockLayer>> chains = new LinkedHashMap<>();
        for (String[] d : new String[][] {{"vda", "web01.qcow2", "QCOW2"}, {"vdb", "web01-data.img", "RAW"},
                {"vdc", "shared-tools.qcow2", "QCOW2"}, {"sda", "debian-12.iso", "RAW"}}) {
            chains.put(d[0], List.of(BlockLayer.of(Path.of("/var/lib/libvirt/images/" + d[1]),
                    BlockLayer.Format.valueOf(d[2]), "n-" + d[0])));
        }
        assertThatThrownBy(() -> DomainTranslator.translate(Domain.parse(web01), chains, TCG))
                .isInstanceOf(UnsupportedDomainException.class)
                .hasMessage("domain web01: <interface type='network'> is not supported: use type='bridge' with the "
                        + "network's bridge, or type='user'");

        VmSpec spec = DomainTranslator.translate(Domain.parse(web01.replace("<interface type='network'>",
                "<interface type='bridge'>").replace("<source network='default'/>", "<source bridge='virbr0'/>")), chains, TCG);
        List<String> cmd = argv(spec);
        assertThat(spec.machine().type()).isEqualTo("pc-q35-7.2");
        assertThat(spec.memory().maxMiB()).isEqualTo(2048);
        assertThat(spec.memory().currentMiB()).as("a balloon target").isEqualTo(1536);
        assertThat(spec.cpu()).isEqualTo(Cpu.AUTO);
        JsonNode nic = device(cmd, "net0");
        assertThat(nic.path("mac").asText()).isEqualTo("52:54:00:12:34:56");
        assertThat(nic.path("bus").asText()).as("the XML's PCI address").isEqualTo("pci.1");
        assertThat(device(cmd, "pci.1").path("addr").asText()).isEqualTo("0x2");
        assertThat(device(cmd, "vda").path("bootindex").asInt()).isEqualTo(1);
        assertThat(device(cmd, "vdb").path("serial").asText()).isEqualTo("DATA0001");
        assertThat(device(cmd, "sda").path("bus").asText()).isEqualTo("ide.0");
        assertThat(device(cmd, "usb").path("driver").asText()).isEqualTo("qemu-xhci");
        assertThat(device(cmd, "input0").path("driver").asText()).isEqualTo("usb-tablet");
        assertThat(device(cmd, "video0").path("driver").asText()).isEqualTo("virtio-vga");
        assertThat(device(cmd, "video0").path("addr").asText()).isEqualTo("0x1");
        assertThat(device(cmd, "channel0").path("nr").asInt()).isEqualTo(1);
        assertThat(device(cmd, "virtio-serial0").path("bus").asText()).isEqualTo("pci.3");
        assertThat(device(cmd, "rng0").path("bus").asText()).isEqualTo("pci.8");
        assertThat(cmd).contains("127.0.0.1:0,to=99", "pty,id=charserial0");
        assertThat(cmd.get(cmd.indexOf("-machine") + 1)).isEqualTo("pc-q35-7.2,usb=off,dump-guest-core=off,vmport=off,hpet=off");
        assertThat(cmd).contains("ICH9-LPC.disable_s3=1", "ICH9-LPC.disable_s4=1", "base=utc,driftfix=slew");
        assertThat(cmd.get(cmd.indexOf("-action") + 1)).isEqualTo("reboot=reset,shutdown=poweroff,panic=exit-failure");
    }

    @Test
    void directKernelBootWithOsBootDevAsABootIndex_fileSerialAndConsoleAsOnePort() throws Exception {
        VmSpec spec = translate(xml("<kernel>/k/vmlinuz</kernel><initrd>/k/initrd</initrd><cmdline>console=ttyS0</cmdline>"
                + "<boot dev='hd'/>", "<on_reboot>destroy</on_reboot>",
                "<serial type='file'><source path='/l/s.log' append='on'/><target port='0'/></serial>"
                        + "<console type='file'><source path='/l/s.log'/><target type='serial' port='0'/></console>"
                        + "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>"));
        assertThat(spec.boot().kernel().kernel()).isEqualTo(Path.of("/k/vmlinuz"));
        assertThat(spec.boot().kernel().cmdline()).isEqualTo("console=ttyS0");
        assertThat(spec.boot().firmware()).isEqualTo(Firmware.BIOS);
        assertThat(spec.disks().getFirst().bootIndex()).isEqualTo(1);
        assertThat(spec.serials()).containsExactly(new Serial(0, new Serial.File(Path.of("/l/s.log"), true)));
        assertThat(spec.agent().socket()).as("the run folder's").isNull();
        assertThat(spec.lifecycle()).isEqualTo(new Lifecycle(Lifecycle.Shutdown.POWEROFF, Lifecycle.Reboot.SHUTDOWN,
                Lifecycle.Panic.EXIT_FAILURE));
        assertThat(spec.cpu()).as("no <cpu>: QEMU's default, as libvirt").isEqualTo(Cpu.named("qemu64"));
        assertThat(spec.accel()).isEqualTo(VmSpec.Accel.TCG);
        assertThat(spec.platform().acpi()).as("no <acpi/>").isFalse();
    }

    @Test
    void aChainIsPassedThroughWithTheCallersNodeNames() throws Exception {
        Map<String, List<BlockLayer>> chains = chains();
        chains.put("vda", List.of(BlockLayer.of(Path.of("/i/vda.qcow2"), BlockLayer.Format.QCOW2, "vmsnap-3"),
                BlockLayer.of(Path.of("/i/base.qcow2"), BlockLayer.Format.QCOW2, "vmsnap-2")));
        VmSpec spec = DomainTranslator.translate(Domain.parse(xml("", "", "")), chains, TCG);
        Disk vda = spec.disks().getFirst();
        assertThat(vda.chain()).isEqualTo(chains.get("vda"));
        assertThat(vda.id()).isEqualTo("vda");
        assertThatThrownBy(() -> DomainTranslator.translate(Domain.parse(xml("", "", "")), Map.of(), TCG))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("no image chain given for disk vda");
        assertThatThrownBy(() -> DomainTranslator.translate(Domain.parse(xml("", "", "")), Map.of("vda",
                List.of(BlockLayer.of(Path.of("/i/other.qcow2"), BlockLayer.Format.QCOW2, "x"))), TCG))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not the disk's source /i/vda.qcow2");
    }

    @Test
    void uefiMenuCpuModesTopologyAndQemuCommandline() throws Exception {
        VmSpec spec = translate(xml("<loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader>"
                + "<nvram template='/usr/share/OVMF/OVMF_VARS_4M.fd'>/v/vm_VARS.fd</nvram><bootmenu enable='yes' timeout='2000'/>",
                "<features><acpi/><apic/></features><cpu mode='custom'><model>Nehalem</model>"
                        + "<topology sockets='1' dies='1' cores='1' threads='1'/></cpu>", "")
                .replace("<domain type='kvm'>", "<domain type='kvm' xmlns:q='http://libvirt.org/schemas/domain/qemu/1.0'>")
                .replace("</devices>", "</devices><q:commandline><q:arg value='-device'/><q:arg value='pvpanic'/>"
                        + "<q:env name='QEMU_X' value='1'/></q:commandline>"));
        assertThat(spec.boot().firmware()).isEqualTo(new Firmware.Uefi(Path.of("/usr/share/OVMF/OVMF_CODE_4M.fd"),
                Path.of("/v/vm_VARS.fd"), Path.of("/usr/share/OVMF/OVMF_VARS_4M.fd")));
        assertThat(spec.boot().menu()).isTrue();
        assertThat(spec.boot().menuTimeoutMillis()).isEqualTo(2000);
        assertThat(spec.cpu()).isEqualTo(Cpu.named("Nehalem"));
        assertThat(spec.extraArgs()).containsExactly("-device", "pvpanic");
        assertThat(spec.env()).containsEntry("QEMU_X", "1");
        assertThat(spec.platform().acpi()).isTrue();
        assertThat(translate(xml("", "<cpu mode='maximum'/>", "")).cpu().mode()).isEqualTo(Cpu.Mode.MAX);
        assertThat(translate(xml("", "<cpu mode='host-model'/>", "")).cpu()).isEqualTo(Cpu.AUTO);
    }

    @Test
    void diskBusesTuningAndDefaultDriveAddresses() throws Exception {
        Map<String, List<BlockLayer>> chains = chains();
        chains.put("hda", List.of(BlockLayer.of(Path.of("/i/hda.raw"), BlockLayer.Format.RAW, "h")));
        chains.put("sdb", List.of(BlockLayer.of(Path.of("/i/sdb.raw"), BlockLayer.Format.RAW, "s")));
        String xml = xml("", "", "<disk type='file' device='disk'><driver name='qemu' type='raw' cache='none' io='native' "
                + "discard='unmap' detect_zeroes='unmap'/><source file='/i/hda.raw'/><target dev='hda' bus='ide'/></disk>"
                + "<disk type='file' device='disk'><source file='/i/sdb.raw'/><target dev='sdb' bus='scsi'/></disk>"
                + "<disk type='file' device='cdrom'><target dev='hdc' bus='ide'/><readonly/></disk>"
                + "<controller type='ide' index='0'><address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x1'/>"
                + "</controller><controller type='scsi' index='0' model='virtio-scsi'/>");
        List<String> cmd = argv(DomainTranslator.translate(Domain.parse(xml), chains, TCG));
        assertThat(device(cmd, "hda").path("bus").asText()).isEqualTo("ide.0");
        assertThat(device(cmd, "hda").path("write-cache").asText()).isEqualTo("on");
        assertThat(device(cmd, "hdc").path("bus").asText()).as("hdc: IDE bus 1 unit 0").isEqualTo("ide.1");
        assertThat(device(cmd, "hdc").has("drive")).as("an empty CD-ROM").isFalse();
        assertThat(device(cmd, "sdb").path("lun").asInt()).isEqualTo(1);
        assertThat(String.join(" ", cmd)).contains("\"aio\":\"native\"", "\"detect-zeroes\":\"unmap\"");
    }

    @Test
    void lifecycleActionsMapToQemusActions() throws Exception {
        assertThat(translate(xml("", "<on_poweroff>preserve</on_poweroff><on_crash>preserve</on_crash>", "")).lifecycle())
                .isEqualTo(new Lifecycle(Lifecycle.Shutdown.PAUSE, Lifecycle.Reboot.RESET, Lifecycle.Panic.PAUSE));
        assertThat(translate(xml("", "", "")).lifecycle()).as("libvirt's defaults")
                .isEqualTo(new Lifecycle(Lifecycle.Shutdown.POWEROFF, Lifecycle.Reboot.RESET, Lifecycle.Panic.EXIT_FAILURE));
    }

    @Test
    void userAndBridgeNicsVncOnASocketAndRng() throws Exception {
        List<String> cmd = argv(translate(xml("", "", "<interface type='user'><mac address='52:54:00:AA:00:01'/>"
                + "<model type='e1000'/></interface><interface type='bridge'><mac address='52:54:00:aa:00:02'/>"
                + "<source bridge='br0'/></interface><graphics type='vnc'><listen type='socket' socket='/r/vnc.sock'/>"
                + "</graphics><video><model type='vga' vram='16384' heads='1' primary='yes'/></video>"
                + "<rng model='virtio'><rate bytes='1024' period='1000'/><backend model='random'>/dev/random</backend></rng>"
                + "<memballoon model='none'/>")));
        assertThat(device(cmd, "net0").path("mac").asText()).isEqualTo("52:54:00:aa:00:01");
        assertThat(device(cmd, "net0").path("driver").asText()).isEqualTo("e1000");
        assertThat(device(cmd, "net1").path("driver").asText()).as("libvirt's default model").isEqualTo("rtl8139");
        assertThat(String.join(" ", cmd)).contains("\"type\":\"bridge\",\"id\":\"hostnet1\",\"br\":\"br0\","
                + "\"helper\":\"/usr/lib/qemu/qemu-bridge-helper\"");
        assertThat(cmd).contains("unix:/r/vnc.sock");
        assertThat(device(cmd, "video0").path("vgamem_mb").asInt()).isEqualTo(16);
        assertThat(device(cmd, "rng0").path("max-bytes").asInt()).isEqualTo(1024);
        assertThat(String.join(" ", cmd)).doesNotContain("balloon");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            <devices><hostdev>      | ||<hostdev mode='subsystem' type='pci'/>| domain vm: <devices><hostdev> is not supported by vmsnap
            <devices><sound>        | ||<sound model='ich9'/>| domain vm: <devices><sound> is not supported: remove it (vmsnap starts VMs without sound devices)
            <devices><watchdog>     | ||<watchdog model='i6300esb'/>| domain vm: <devices><watchdog> is not supported by vmsnap
            <devices><filesystem>   | ||<filesystem type='mount'/>| domain vm: <devices><filesystem> is not supported by vmsnap
            <sysinfo>               | |<sysinfo type='smbios'/>|| domain vm: <sysinfo> is not supported by vmsnap
            <features><hyperv>      | |<features><hyperv/></features>|| domain vm: <features><hyperv> is not supported by vmsnap
            <maxMemory>             | |<maxMemory slots='4' unit='GiB'>8</maxMemory>|| domain vm: <maxMemory> is not supported by vmsnap
            <cpu><feature>          | |<cpu mode='custom'><model>qemu64</model><feature policy='require' name='vmx'/></cpu>|| domain vm: <cpu><feature> is not supported by vmsnap
            driver iothread         | ||<disk type='file' device='disk'><driver name='qemu' type='raw' iothread='1'/><source file='/i/x'/><target dev='vdz'/></disk>| domain vm: <devices><disk><driver iothread='1'> is not supported: remove it (vmsnap runs no I/O threads)
            interface link          | ||<interface type='user'><mac address='52:54:00:00:00:01'/><link state='down'/></interface>| domain vm: <devices><interface><link> is not supported by vmsnap
            graphics passwd         | ||<graphics type='vnc' passwd='x'/>| domain vm: <devices><graphics passwd='x'> is not supported by vmsnap
            qemu:capabilities       | |<qemu:capabilities xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'/>|| domain vm: <qemu:capabilities> is not supported by vmsnap
            interface network       | ||<interface type='network'><mac address='52:54:00:00:00:01'/><source network='default'/></interface>| domain vm: <interface type='network'> is not supported: use type='bridge' with the network's bridge, or type='user'
            interface direct        | ||<interface type='direct'><mac address='52:54:00:00:00:01'/></interface>| domain vm: <interface type='direct'> is not supported: use type='bridge' or type='user'
            interface without mac   | ||<interface type='user'/>| domain vm: <interface type='user'> has no <mac address=...>: add one (the guest sees it, so it must not change between starts)
            interface model         | ||<interface type='user'><mac address='52:54:00:00:00:01'/><model type='vmxnet3'/></interface>| domain vm: <interface><model type='vmxnet3'> is not supported: use virtio, e1000, e1000e or rtl8139
            graphics spice          | ||<graphics type='spice' autoport='yes'/>| domain vm: <graphics type='spice'> is not supported: use <graphics type='vnc'> (and remove the SPICE channel, audio and redirdev)
            vnc port                | ||<graphics type='vnc' port='5000' autoport='no'/>| domain vm: <graphics type='vnc' port='5000'> is not supported: use 5900..65535 or autoport='yes'
            vnc listen network      | ||<graphics type='vnc'><listen type='network' network='default'/></graphics>| domain vm: <graphics type='vnc'><listen type='network'> is not supported: use type='address' or type='socket'
            channel spicevmc        | ||<channel type='spicevmc'><target type='virtio' name='com.redhat.spice.0'/></channel>| domain vm: <channel type='spicevmc'> is not supported: remove it (vmsnap does not run SPICE)
            other channel           | ||<channel type='unix'><target type='virtio' name='org.example.0'/></channel>| domain vm: <channel type='unix'> org.example.0 is not supported: vmsnap carries only the guest agent's channel (unix, virtio, org.qemu.guest_agent.0)
            serial tcp              | ||<serial type='tcp'/>| domain vm: <serial type='tcp'> is not supported: use type='pty' or type='file'
            console virtio          | ||<console type='pty'><target type='virtio'/></console>| domain vm: <console><target type='virtio'> is not supported: use a serial console
            disk block              | ||<disk type='block' device='disk'><source dev='/dev/sdz'/><target dev='vdy'/></disk>| domain vm: <disk type='block'> vdy is not supported: vmsnap runs file disks (qcow2 or raw)
            disk floppy             | ||<disk type='file' device='floppy'><target dev='fda'/></disk>| domain vm: <disk device='floppy'> fda is not supported: use disk or cdrom
            disk usb bus            | ||<disk type='file' device='disk'><source file='/i/u'/><target dev='sdu' bus='usb'/></disk>| domain vm: <disk> sdu: <target bus='usb'> is not supported: use virtio, sata, scsi or ide
            disk vmdk               | ||<disk type='file' device='disk'><driver name='qemu' type='vmdk'/><source file='/i/u'/><target dev='vdu'/></disk>| domain vm: <disk> vdu: <driver type='vmdk'> is not supported: use qcow2 or raw
            disk cache              | ||<disk type='file' device='cdrom'><driver name='qemu' type='raw' cache='fast'/><target dev='hdd' bus='ide'/></disk>| domain vm: <disk> hdd: <driver cache='fast'> is not supported
            disk aio needs direct   | ||<disk type='file' device='cdrom'><driver name='qemu' type='raw' io='native'/><target dev='hdd' bus='ide'/></disk>| domain vm: <disk> hdd: <driver> aio native needs cache none or directsync (O_DIRECT)
            readonly sata disk      | ||<disk type='file' device='disk'><source file='/i/s'/><target dev='sdb' bus='sata'/><readonly/></disk>| domain vm: <disk> sdb: <readonly/> on a bus='sata' hard disk is not supported (QEMU's IDE disks cannot be read-only): use bus='virtio'
            ide on q35              | ||<controller type='ide' index='0'/>| domain vm: <controller type='ide'> is not supported on q35 (it has no IDE): use bus='sata' for its disks
            sata needs controller   | ||<disk type='file' device='cdrom'><target dev='sdc' bus='sata'/></disk>| domain vm: <disk> sdc: bus='sata' needs <controller type='sata' index='0'>
            scsi lsilogic           | ||<controller type='scsi' index='0' model='lsilogic'/>| domain vm: <controller type='scsi' model='lsilogic'> is not supported: use model='virtio-scsi'
            usb model               | ||<controller type='usb' index='0' model='vt82c686b-uhci'/>| domain vm: <controller type='usb' model='vt82c686b-uhci'> is not supported: use model='qemu-xhci'
            fdc controller          | ||<controller type='fdc' index='0'/>| domain vm: <controller type='fdc'> is not supported by vmsnap
            dmi bridge              | ||<controller type='pci' index='1' model='dmi-to-pci-bridge'/>| domain vm: <controller type='pci' model='dmi-to-pci-bridge'> is not supported: vmsnap builds pcie-root-port, pci-bridge and pcie-to-pci-bridge
            address without bus     | ||<memballoon model='virtio'><address type='pci' domain='0x0000' bus='0x05' slot='0x00' function='0x0'/></memballoon>| domain vm: <memballoon> <address bus='0x5'> names a bus without a <controller type='pci' index='5'>
            address domain          | ||<memballoon model='virtio'><address type='pci' domain='0x0001' bus='0x00' slot='0x05' function='0x0'/></memballoon>| domain vm: <memballoon> <address domain='0x1'> is not supported: use domain 0x0000
            builtin sata moved      | ||<controller type='sata' index='0'><address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/></controller>| domain vm: <controller type='sata'> is built into the machine at 0000:00:1f.2: remove its <address> or use that one
            usb input no controller | ||<input type='tablet' bus='usb'/>| domain vm: <input type='tablet' bus='usb'> needs a <controller type='usb' index='0'> with a model other than none
            virtio input            | ||<input type='keyboard' bus='virtio'/>| domain vm: <input type='keyboard' bus='virtio'> is not supported: use bus='usb' (tablet, mouse, keyboard) or ps2 (mouse, keyboard)
            video vmvga             | ||<video><model type='vmvga'/></video>| domain vm: <video><model type='vmvga'> is not supported: use vga, virtio, qxl, bochs, cirrus or none
            rng egd                 | ||<rng model='virtio'><backend model='egd' type='tcp'/></rng>| domain vm: <rng><backend model='egd'> is not supported: use random
            rng source              | ||<rng model='virtio'><backend model='random'>/etc/passwd</backend></rng>| domain vm: <rng><backend>/etc/passwd</backend> is not supported: use /dev/urandom, /dev/random or /dev/hwrng
            balloon model           | ||<memballoon model='xen'/>| domain vm: <memballoon model='xen'> is not supported: use virtio or none
            """)
    void eachUnsupportedDeviceIsRefusedWithItsOwnLine(String name, String os, String extra, String devices, String line)
            throws Exception {
        String xml = xml(os == null ? "" : os, extra == null ? "" : extra, devices == null ? "" : devices);
        if (name.startsWith("ide on q35") || name.startsWith("builtin sata")) {
            xml = xml.replace("machine='pc'", "machine='q35'");
        }
        assertThat(refusals(xml)).containsExactly(line.strip());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            domain type xen      | <domain type='kvm'>            | <domain type='xen'>                | domain vm: <domain type='xen'> is not supported: use type='kvm' or type='qemu'
            arch                 | arch='x86_64'                  | arch='aarch64'                     | domain vm: <os><type arch='aarch64'> is not supported: vmsnap runs x86_64 guests
            machine              | machine='pc'                   | machine='microvm'                  | domain vm: <os><type machine='microvm'> is not supported: use pc, q35, or pc-i440fx-X.Y or pc-q35-X.Y
            efi without loader   | <os>                           | <os firmware='efi'>                | domain vm: <os firmware='efi'> needs <loader readonly='yes' type='pflash'> with the OVMF code and <nvram> with the VM's variable store
            loader rom           | </type>                        | </type><loader>/x/bios.bin</loader> | domain vm: <os><loader type='rom'> is not supported: use type='pflash' with OVMF, or no <loader> for SeaBIOS
            secure loader        | </type>                        | </type><loader readonly='yes' type='pflash' secure='yes'>/x/c.fd</loader><nvram>/x/v.fd</nvram> | domain vm: <os><loader secure='yes'> is not supported: vmsnap starts UEFI without secure boot (use OVMF_CODE_4M.fd, secure='no')
            loader without nvram | </type>                        | </type><loader readonly='yes' type='pflash'>/x/c.fd</loader> | domain vm: <os><loader type='pflash'> needs <nvram> with the VM's UEFI variable store
            boot fd              | </type>                        | </type><boot dev='fd'/>            | domain vm: <os><boot dev='fd'> is not supported: use hd, cdrom or network
            relative kernel      | </type>                        | </type><kernel>vmlinuz</kernel>    | domain vm: <os><kernel> 'vmlinuz' is not an absolute path
            os bios              | </type>                        | </type><bios useserial='yes'/>     | domain vm: <os><bios> is not supported: remove it (SeaBIOS's defaults are used)
            poweroff restart     | <devices>                      | <on_poweroff>restart</on_poweroff><devices> | domain vm: <on_poweroff>restart</on_poweroff> is not supported: use destroy or preserve
            reboot preserve      | <devices>                      | <on_reboot>preserve</on_reboot><devices> | domain vm: <on_reboot>preserve</on_reboot> is not supported: use restart or destroy
            crash coredump       | <devices>                      | <on_crash>coredump-destroy</on_crash><devices> | domain vm: <on_crash>coredump-destroy</on_crash> is not supported: use destroy or preserve
            reboot destroy kept  | <devices>                      | <on_poweroff>preserve</on_poweroff><on_reboot>destroy</on_reboot><devices> | domain vm: <on_reboot>destroy</on_reboot> with <on_poweroff>preserve</on_poweroff> is not supported: use restart, or on_poweroff destroy
            balloon target       | <vcpu>                         | <currentMemory unit='MiB'>128</currentMemory><vcpu> | domain vm: <currentMemory> below <memory> needs <memballoon model='virtio'>: add one, or set <currentMemory> to <memory>
            clock adjustment     | <devices>                      | <clock offset='utc' adjustment='0'/><devices> | domain vm: <clock adjustment='0'> is not supported by vmsnap
            clock variable       | <devices>                      | <clock offset='variable'/><devices> | domain vm: <clock offset='variable'> is not supported: use utc or localtime
            clock timezone       | <devices>                      | <clock offset='timezone'/><devices> | domain vm: <clock offset='timezone'> is not supported: use utc or localtime
            timer tsc            | <devices>                      | <clock offset='utc'><timer name='tsc' present='yes'/></clock><devices> | domain vm: <clock><timer name='tsc'> is not supported by vmsnap
            topology             | <devices>                      | <cpu><topology sockets='2' cores='1' threads='1'/></cpu><devices> | domain vm: <cpu><topology> holds 2 vCPUs but <vcpu> is 1: make them agree
            cpu mode             | <devices>                      | <cpu mode='host-something'/><devices> | domain vm: <cpu mode='host-something'> is not supported: use host-passthrough, maximum or a model
            secure boot feature  | </type>                        | </type><firmware><feature enabled='yes' name='secure-boot'/></firmware> | domain vm: <os><firmware><feature name='secure-boot' enabled='yes'> is not supported: vmsnap starts UEFI without secure boot
            smbios               | </type>                        | </type><smbios mode='sysinfo'/>    | domain vm: <os><smbios> is not supported by vmsnap
            os and device boot   | <target dev='vda' bus='virtio'/> | <target dev='vda' bus='virtio'/><boot order='1'/> | domain vm: <os><boot dev=...> and per-device <boot order=...> cannot be mixed: keep one of them
            qemu env name        | </devices>                     | </devices><qemu:commandline xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><qemu:env name='A-B' value='1'/></qemu:commandline> | domain vm: <qemu:env name='A-B'> is not a valid environment variable name
            """)
    void eachUnsupportedSettingIsRefusedWithItsOwnLine(String name, String from, String to, String line) throws Exception {
        String base = xml(name.startsWith("os and device") ? "<boot dev='hd'/>" : "", "", "");
        assertThat(base).contains(from.strip());
        assertThat(refusals(base.replace(from.strip(), to.strip()))).containsExactly(line.strip());
    }

    @Test
    void everyRefusalOfOneDomainIsReportedAtOnce_oneLineEach() throws Exception {
        List<String> lines = refusals(xml("", "", "<sound model='ich9'/><graphics type='spice'/>"
                + "<interface type='network'><mac address='52:54:00:00:00:01'/><source network='default'/></interface>"));
        assertThat(lines).hasSize(3).allSatisfy(l -> assertThat(l).startsWith("domain vm: ").doesNotContain("\n"));
        UnsupportedDomainException e = new UnsupportedDomainException(new ArrayList<>(lines));
        assertThat(e.getMessage().lines()).containsExactlyElementsOf(lines);
    }
}
