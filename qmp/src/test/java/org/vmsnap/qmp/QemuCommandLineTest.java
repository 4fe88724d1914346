package org.vmsnap.qmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.vmsnap.qmp.hw.AgentChannel;
import org.vmsnap.qmp.hw.Balloon;
import org.vmsnap.qmp.hw.BlockLayer;
import org.vmsnap.qmp.hw.Boot;
import org.vmsnap.qmp.hw.Clock;
import org.vmsnap.qmp.hw.Cpu;
import org.vmsnap.qmp.hw.Disk;
import org.vmsnap.qmp.hw.DiskTuning;
import org.vmsnap.qmp.hw.DriveAddress;
import org.vmsnap.qmp.hw.Firmware;
import org.vmsnap.qmp.hw.Lifecycle;
import org.vmsnap.qmp.hw.Machine;
import org.vmsnap.qmp.hw.Memory;
import org.vmsnap.qmp.hw.Nic;
import org.vmsnap.qmp.hw.PciAddress;
import org.vmsnap.qmp.hw.PciController;
import org.vmsnap.qmp.hw.Platform;
import org.vmsnap.qmp.hw.Rng;
import org.vmsnap.qmp.hw.Serial;
import org.vmsnap.qmp.hw.StorageController;
import org.vmsnap.qmp.hw.UsbController;
import org.vmsnap.qmp.hw.UsbInput;
import org.vmsnap.qmp.hw.Vcpus;
import org.vmsnap.qmp.hw.Video;
import org.vmsnap.qmp.hw.Vnc;

/** The QEMU command line built from a VmSpec, option by option. */
class QemuCommandLineTest {

    private static final Path QEMU = Path.of("/usr/bin/qemu-system-x86_64");
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final RunFolder RUN = new RunFolder(Path.of("/run/vm1"));

    private static VmSpec.Builder base() {
        return VmSpec.builder("vm1").memoryMiB(256).vcpus(Vcpus.of(2)).accel(VmSpec.Accel.TCG)
                .kernel(Path.of("/k/vmlinuz"), Path.of("/k/initrd"), "console=ttyS0");
    }

    private static List<String> build(VmSpec spec) {
        return QemuCommandLine.build(QEMU, spec, RUN, false, false);
    }

    private static String after(List<String> cmd, String option) {
        int i = cmd.indexOf(option);
        assertThat(i).as(option).isNotNegative();
        return cmd.get(i + 1);
    }

    private static List<String> all(List<String> cmd, String option) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < cmd.size() - 1; i++) {
            if (cmd.get(i).equals(option)) {
                out.add(cmd.get(i + 1));
            }
        }
        return out;
    }

    private static List<JsonNode> json(List<String> cmd, String option) throws Exception {
        List<JsonNode> out = new ArrayList<>();
        for (String s : all(cmd, option)) {
            out.add(JSON.readTree(s));
        }
        return out;
    }

    private static JsonNode device(List<String> cmd, String id) throws Exception {
        return json(cmd, "-device").stream().filter(d -> d.path("id").asText().equals(id)).findFirst()
                .orElseThrow(() -> new AssertionError("no -device with id " + id + " in " + cmd));
    }

    private static Disk chainDisk(String id, List<BlockLayer> chain, boolean readOnly) {
        return new Disk(id, Disk.Bus.VIRTIO, Disk.Media.DISK, readOnly, DiskTuning.DEFAULT, chain, null, null, null, null);
    }

    @Test
    void aChainIsEmittedBottomUp_eachFormatNodeNamingItsFileAndBacking_theBottomOneNull() throws Exception {
        Disk disk = chainDisk("vda", List.of(
                BlockLayer.of(Path.of("/d/top,1.qcow2"), BlockLayer.Format.QCOW2, "vmsnap-3"),
                BlockLayer.of(Path.of("/d/mid.qcow2"), BlockLayer.Format.QCOW2, "vmsnap-2"),
                BlockLayer.of(Path.of("/d/base.raw"), BlockLayer.Format.RAW, "vmsnap-1")), false);
        List<String> cmd = build(base().disk(disk).build());
        List<JsonNode> nodes = json(cmd, "-blockdev");
        assertThat(nodes).extracting(n -> n.path("node-name").asText()).containsExactly(
                "vmsnap-1-storage", "vmsnap-1-format", "vmsnap-2-storage", "vmsnap-2-format", "vmsnap-3-storage",
                "vmsnap-3-format");
        assertThat(nodes.get(0).path("driver").asText()).isEqualTo("file");
        assertThat(nodes.get(0).path("filename").asText()).isEqualTo("/d/base.raw");
        assertThat(nodes.get(1).path("driver").asText()).isEqualTo("raw");
        assertThat(nodes.get(1).has("backing")).as("raw has no backing").isFalse();
        assertThat(nodes.get(3).path("backing").asText()).isEqualTo("vmsnap-1-format");
        assertThat(nodes.get(3).path("read-only").asBoolean()).as("a backing layer").isTrue();
        assertThat(nodes.get(5).path("file").asText()).isEqualTo("vmsnap-3-storage");
        assertThat(nodes.get(5).path("backing").asText()).isEqualTo("vmsnap-2-format");
        assertThat(nodes.get(5).path("read-only").asBoolean()).as("the top layer").isFalse();
        assertThat(nodes.get(4).path("filename").asText()).as("JSON needs no comma escaping").isEqualTo("/d/top,1.qcow2");
        assertThat(nodes.get(4).path("auto-read-only").asBoolean()).isTrue();
        assertThat(nodes.get(4).path("drop-cache").isBoolean()).as("the page cache kept on reactivation").isTrue();
        assertThat(nodes.get(4).path("drop-cache").asBoolean()).isFalse();
        JsonNode dev = device(cmd, "vda");
        assertThat(dev.path("driver").asText()).isEqualTo("virtio-blk-pci");
        assertThat(dev.path("drive").asText()).isEqualTo("vmsnap-3-format");
    }

    @Test
    void aSingleQcow2LayerHasANullBacking_andAReadOnlyDiskOpensEveryNodeReadOnly() throws Exception {
        Disk disk = chainDisk("vdb", List.of(BlockLayer.of(Path.of("/d/a.qcow2"), BlockLayer.Format.QCOW2, "n1")), true);
        List<JsonNode> nodes = json(build(base().disk(disk).build()), "-blockdev");
        assertThat(nodes.get(1).has("backing")).isTrue();
        assertThat(nodes.get(1).path("backing").isNull()).isTrue();
        assertThat(nodes).allSatisfy(n -> assertThat(n.path("read-only").asBoolean()).isTrue());
    }

    @Test
    void tuningGoesOnEveryNode_detectZeroesOnTheTop_writeCacheOnTheDevice() throws Exception {
        DiskTuning tuning = new DiskTuning(DiskTuning.Cache.NONE, DiskTuning.Discard.UNMAP, DiskTuning.Aio.NATIVE,
                DiskTuning.DetectZeroes.UNMAP);
        Disk disk = new Disk("vda", Disk.Bus.VIRTIO, Disk.Media.DISK, false, tuning, List.of(
                BlockLayer.of(Path.of("/d/t.qcow2"), BlockLayer.Format.QCOW2, "t"),
                BlockLayer.of(Path.of("/d/b.qcow2"), BlockLayer.Format.QCOW2, "b")), 1, PciAddress.of(0, 5), null, "SER-1");
        List<String> cmd = build(base().disk(disk).build());
        List<JsonNode> nodes = json(cmd, "-blockdev");
        assertThat(nodes).allSatisfy(n -> {
            assertThat(n.path("cache").path("direct").asBoolean()).isTrue();
            assertThat(n.path("cache").path("no-flush").asBoolean()).isFalse();
            assertThat(n.path("discard").asText()).isEqualTo("unmap");
        });
        assertThat(nodes.get(0).path("aio").asText()).isEqualTo("native");
        assertThat(nodes.get(3).path("detect-zeroes").asText()).isEqualTo("unmap");
        assertThat(nodes.get(1).has("detect-zeroes")).isFalse();
        JsonNode dev = device(cmd, "vda");
        assertThat(dev.path("write-cache").asText()).isEqualTo("on");
        assertThat(dev.path("bootindex").asInt()).isEqualTo(1);
        assertThat(dev.path("serial").asText()).isEqualTo("SER-1");
        assertThat(dev.path("bus").asText()).isEqualTo("pci.0");
        assertThat(dev.path("addr").asText()).isEqualTo("0x5");
        assertThat(after(cmd, "-boot")).isEqualTo("strict=on");
    }

    @Test
    void sataIdeAndScsiDisksSitOnTheirControllers_anEmptyCdromHasNoDrive() throws Exception {
        BlockLayer iso = BlockLayer.of(Path.of("/i/d.iso"), BlockLayer.Format.RAW, "iso");
        Disk sataCd = new Disk("sda", Disk.Bus.SATA, Disk.Media.CDROM, true, null, List.of(iso), null, null,
                new DriveAddress(0, 0, 0, 2), null);
        Disk emptyCd = new Disk("sdb", Disk.Bus.SATA, Disk.Media.CDROM, true, null, List.of(), null, null,
                new DriveAddress(0, 0, 0, 3), null);
        List<String> q35 = build(base().machine(Machine.Q35).disk(sataCd).disk(emptyCd).build());
        assertThat(device(q35, "sda").path("bus").asText()).as("q35's built-in AHCI").isEqualTo("ide.2");
        assertThat(device(q35, "sda").path("driver").asText()).isEqualTo("ide-cd");
        assertThat(device(q35, "sdb").has("drive")).isFalse();
        assertThat(json(q35, "-blockdev")).allSatisfy(n -> assertThat(n.path("read-only").asBoolean()).isTrue());

        Disk ide = new Disk("hdc", Disk.Bus.IDE, Disk.Media.DISK, false, null, List.of(iso), null, null,
                new DriveAddress(0, 1, 0, 0), null);
        Disk sata = new Disk("sdc", Disk.Bus.SATA, Disk.Media.DISK, false, null,
                List.of(BlockLayer.of(Path.of("/i/s.raw"), BlockLayer.Format.RAW, "s")), null, null, new DriveAddress(0, 0, 0, 1), null);
        Disk scsi = new Disk("sdd", Disk.Bus.SCSI, Disk.Media.DISK, false, null,
                List.of(BlockLayer.of(Path.of("/i/c.raw"), BlockLayer.Format.RAW, "c")), null, null, new DriveAddress(0, 0, 0, 3), null);
        List<String> pc = build(base().storageController(new StorageController(StorageController.Kind.AHCI, 0, PciAddress.of(0, 7)))
                .storageController(new StorageController(StorageController.Kind.VIRTIO_SCSI, 0, null))
                .disk(ide).disk(sata).disk(scsi).build());
        assertThat(device(pc, "hdc").path("bus").asText()).isEqualTo("ide.1");
        assertThat(device(pc, "hdc").path("unit").asInt()).isZero();
        assertThat(device(pc, "hdc").path("driver").asText()).isEqualTo("ide-hd");
        assertThat(device(pc, "sata0").path("driver").asText()).isEqualTo("ahci");
        assertThat(device(pc, "sata0").path("addr").asText()).isEqualTo("0x7");
        assertThat(device(pc, "sdc").path("bus").asText()).isEqualTo("sata0.1");
        assertThat(device(pc, "scsi0").path("driver").asText()).isEqualTo("virtio-scsi-pci");
        assertThat(device(pc, "sdd").path("bus").asText()).isEqualTo("scsi0.0");
        assertThat(device(pc, "sdd").path("lun").asInt()).isEqualTo(3);
        assertThat(device(pc, "sdd").path("driver").asText()).isEqualTo("scsi-hd");
        assertThat(pc.indexOf(after(pc, "-device"))).as("controllers come before the disks on them")
                .isLessThan(pc.indexOf(JSON.writeValueAsString(device(pc, "sdc"))));
    }

    @Test
    void nicsKeepTheirMacModelAndAddress_userAndBridgeBackends() throws Exception {
        List<String> cmd = build(base().machine(Machine.Q35)
                .pciController(new PciController(1, PciController.Model.PCIE_ROOT_PORT, 1, 0x10,
                        new PciAddress(0, 2, 0, true)))
                .nic(new Nic("net0", new Nic.User(), "virtio-net-pci", "52:54:00:12:34:56", PciAddress.of(1, 0), 2))
                .nic(new Nic("net1", new Nic.Bridge("br0", Path.of("/usr/lib/qemu/qemu-bridge-helper")), "e1000",
                        "52:54:00:00:00:02", null, null))
                .build());
        List<JsonNode> netdevs = json(cmd, "-netdev");
        assertThat(netdevs.get(0).path("type").asText()).isEqualTo("user");
        assertThat(netdevs.get(0).path("id").asText()).isEqualTo("hostnet0");
        assertThat(netdevs.get(1).path("type").asText()).isEqualTo("bridge");
        assertThat(netdevs.get(1).path("br").asText()).isEqualTo("br0");
        assertThat(netdevs.get(1).path("helper").asText()).isEqualTo("/usr/lib/qemu/qemu-bridge-helper");
        JsonNode net0 = device(cmd, "net0");
        assertThat(net0.path("driver").asText()).isEqualTo("virtio-net-pci");
        assertThat(net0.path("mac").asText()).isEqualTo("52:54:00:12:34:56");
        assertThat(net0.path("netdev").asText()).isEqualTo("hostnet0");
        assertThat(net0.path("bus").asText()).isEqualTo("pci.1");
        assertThat(net0.path("addr").asText()).isEqualTo("0x0");
        assertThat(net0.path("bootindex").asInt()).isEqualTo(2);
        assertThat(device(cmd, "net1").path("driver").asText()).isEqualTo("e1000");
        JsonNode port = device(cmd, "pci.1");
        assertThat(port.path("driver").asText()).isEqualTo("pcie-root-port");
        assertThat(port.path("bus").asText()).isEqualTo("pcie.0");
        assertThat(port.path("port").asInt()).isEqualTo(0x10);
        assertThat(port.path("chassis").asInt()).isEqualTo(1);
        assertThat(port.path("multifunction").asBoolean()).isTrue();
        assertThat(port.path("addr").asText()).isEqualTo("0x2");
    }

    @Test
    void vncOnLocalhostOnAPortOrTheFirstFreeOne_orOnASocket() {
        assertThat(after(build(base().vnc(Vnc.localhost(3)).build()), "-vnc")).isEqualTo("127.0.0.1:3");
        assertThat(after(build(base().vnc(Vnc.localhost(null)).build()), "-vnc")).isEqualTo("127.0.0.1:0,to=99");
        assertThat(after(build(base().vnc(new Vnc("::1", 1, null)).build()), "-vnc")).isEqualTo("[::1]:1");
        assertThat(after(build(base().vnc(new Vnc(null, null, Path.of("/r/v,nc.sock"))).build()), "-vnc"))
                .isEqualTo("unix:/r/v,,nc.sock");
        assertThat(build(base().build())).doesNotContain("-vnc");
    }

    @Test
    void videoAdaptersByModel() throws Exception {
        List<String> cmd = build(base().video(new Video(Video.Model.QXL, true, 1, 65536L, 65536L, null, 16384L,
                PciAddress.of(0, 2))).video(new Video(Video.Model.VIRTIO, false, 2, null, null, null, null, null)).build());
        JsonNode qxl = device(cmd, "video0");
        assertThat(qxl.path("driver").asText()).isEqualTo("qxl-vga");
        assertThat(qxl.path("ram_size").asLong()).isEqualTo(64L << 20);
        assertThat(qxl.path("vgamem_mb").asInt()).isEqualTo(16);
        assertThat(qxl.path("max_outputs").asInt()).isEqualTo(1);
        assertThat(device(cmd, "video1").path("driver").asText()).isEqualTo("virtio-gpu-pci");
        assertThat(device(build(base().video(Video.vga()).build()), "video0").path("driver").asText()).isEqualTo("VGA");
    }

    @Test
    void serialPortsGoToAPtyAFileOrTheRunLog_withStableChardevIds() throws Exception {
        List<String> cmd = QemuCommandLine.build(QEMU, base().serial(new Serial(0, new Serial.Pty()))
                .serial(new Serial(1, new Serial.File(Path.of("/l/a,b.log"), false)))
                .serial(new Serial(2, new Serial.RunLog())).build(), new RunFolder(Path.of("/run/a,b")), false, false);
        assertThat(all(cmd, "-chardev")).contains("pty,id=charserial0", "file,id=charserial1,path=/l/a,,b.log,append=off",
                "file,id=charserial2,path=/run/a,,b/serial.log,append=on");
        JsonNode serial1 = device(cmd, "serial1");
        assertThat(serial1.path("driver").asText()).isEqualTo("isa-serial");
        assertThat(serial1.path("chardev").asText()).isEqualTo("charserial1");
        assertThat(serial1.path("index").asInt()).isEqualTo(1);
    }

    @Test
    void theAgentPortIsAVirtioSerialPortOnASocketInTheRunFolderOrItsOwn() throws Exception {
        List<String> cmd = QemuCommandLine.build(QEMU, base().agent(AgentChannel.IN_RUN_FOLDER).build(),
                new RunFolder(Path.of("/run/a,b")), false, false);
        assertThat(cmd).contains("socket,id=charchannel0,path=/run/a,,b/qga.sock,server=on,wait=off");
        assertThat(device(cmd, "virtio-serial0").path("driver").asText()).isEqualTo("virtio-serial-pci");
        JsonNode port = device(cmd, "channel0");
        assertThat(port.path("name").asText()).isEqualTo("org.qemu.guest_agent.0");
        assertThat(port.path("bus").asText()).isEqualTo("virtio-serial0.0");
        List<String> own = build(base().agent(new AgentChannel(Path.of("/var/qga/vm1.sock"), 1)).build());
        assertThat(own).contains("socket,id=charchannel0,path=/var/qga/vm1.sock,server=on,wait=off");
        assertThat(device(own, "channel0").path("nr").asInt()).isEqualTo(1);
        List<String> none = build(base().build());
        assertThat(String.join(" ", none)).doesNotContain("charchannel0", "virtio-serial");
    }

    @Test
    void balloonRngUsbControllersAndInput() throws Exception {
        List<String> cmd = build(base().memory(new Memory(512, 256)).balloon(new Balloon(PciAddress.of(0, 6)))
                .rng(new Rng(Path.of("/dev/urandom"), 1024L, 2000L, null))
                .usbController(new UsbController(0, "ich9-usb-ehci1", null, null, new PciAddress(0, 5, 7, false)))
                .usbController(new UsbController(0, "ich9-usb-uhci1", null, 0, new PciAddress(0, 5, 0, true)))
                .input(new UsbInput(UsbInput.Kind.TABLET, 0, "1")).build());
        assertThat(after(cmd, "-m")).as("QEMU starts with the maximum; the balloon takes it to the target")
                .isEqualTo("size=512M");
        assertThat(device(cmd, "balloon0").path("driver").asText()).isEqualTo("virtio-balloon-pci");
        assertThat(JSON.readTree(after(cmd, "-object")).path("filename").asText()).isEqualTo("/dev/urandom");
        assertThat(device(cmd, "rng0").path("max-bytes").asLong()).isEqualTo(1024);
        assertThat(device(cmd, "rng0").path("period").asLong()).isEqualTo(2000);
        assertThat(device(cmd, "usb").path("addr").asText()).isEqualTo("0x5.0x7");
        JsonNode companion = json(cmd, "-device").stream().filter(d -> d.path("driver").asText().equals("ich9-usb-uhci1"))
                .findFirst().orElseThrow();
        assertThat(companion.path("masterbus").asText()).isEqualTo("usb.0");
        assertThat(companion.path("firstport").asInt()).isZero();
        assertThat(companion.path("multifunction").asBoolean()).isTrue();
        JsonNode tablet = device(cmd, "input0");
        assertThat(tablet.path("driver").asText()).isEqualTo("usb-tablet");
        assertThat(tablet.path("bus").asText()).isEqualTo("usb.0");
        assertThat(tablet.path("port").asText()).isEqualTo("1");
    }

    @Test
    void machinePlatformClockAndLifecycle() {
        List<String> cmd = build(base().machine(new Machine("pc-q35-7.2"))
                .platform(new Platform(false, false, false, false, true))
                .clock(new Clock(Clock.Offset.LOCALTIME, true, true))
                .lifecycle(new Lifecycle(Lifecycle.Shutdown.PAUSE, Lifecycle.Reboot.SHUTDOWN, Lifecycle.Panic.EXIT_FAILURE))
                .build());
        assertThat(after(cmd, "-machine")).isEqualTo("pc-q35-7.2,usb=off,dump-guest-core=off,acpi=off,vmport=off,hpet=off");
        assertThat(all(cmd, "-global")).containsExactly("ICH9-LPC.disable_s3=1", "ICH9-LPC.disable_s4=0");
        assertThat(after(cmd, "-rtc")).isEqualTo("base=localtime,driftfix=slew");
        assertThat(after(cmd, "-action")).isEqualTo("reboot=shutdown,shutdown=pause,panic=exit-failure");
        List<String> kvm = QemuCommandLine.build(QEMU, base().clock(new Clock(Clock.Offset.UTC, false, true)).build(), RUN, true, false);
        assertThat(all(kvm, "-global")).containsExactly("kvm-pit.lost_tick_policy=delay");
        assertThat(after(build(base().platform(new Platform(true, null, null, false, null)).build()), "-global"))
                .isEqualTo("PIIX4_PM.disable_s3=1");
    }

    @Test
    void uefiPutsTheCodeReadOnlyInPflash0AndTheVariablesInPflash1() throws Exception {
        List<String> cmd = build(base().boot(new Boot(new Firmware.Uefi(Path.of("/usr/share/OVMF/OVMF_CODE_4M.fd"),
                Path.of("/v/vm1_VARS.fd"), null), null, true, 3000)).build());
        assertThat(after(cmd, "-machine")).endsWith(",pflash0=pflash0-format,pflash1=pflash1-format");
        List<JsonNode> nodes = json(cmd, "-blockdev");
        assertThat(nodes.get(0).path("filename").asText()).isEqualTo("/usr/share/OVMF/OVMF_CODE_4M.fd");
        assertThat(nodes.get(1).path("read-only").asBoolean()).isTrue();
        assertThat(nodes.get(2).path("filename").asText()).isEqualTo("/v/vm1_VARS.fd");
        assertThat(nodes.get(3).path("read-only").asBoolean()).isFalse();
        assertThat(after(cmd, "-boot")).isEqualTo("strict=on,menu=on,splash-time=3000");
        assertThat(cmd).doesNotContain("-kernel");
    }

    @Test
    void memoryCpusKernelAndAccelerator() {
        List<String> tcg = build(base().uuid("1b4e28ba-2fa1-11d2-883f-0016d3cca427").build());
        assertThat(tcg.getFirst()).isEqualTo(QEMU.toString());
        assertThat(after(tcg, "-name")).isEqualTo("guest=vm1,debug-threads=on");
        assertThat(after(tcg, "-uuid")).isEqualTo("1b4e28ba-2fa1-11d2-883f-0016d3cca427");
        assertThat(after(tcg, "-m")).isEqualTo("size=256M");
        assertThat(after(tcg, "-smp")).as("one socket per vCPU, as libvirt").isEqualTo("2,maxcpus=2,sockets=2,dies=1,cores=1,threads=1");
        assertThat(after(tcg, "-accel")).isEqualTo("tcg");
        assertThat(after(tcg, "-cpu")).isEqualTo("max");
        assertThat(after(tcg, "-kernel")).isEqualTo("/k/vmlinuz");
        assertThat(after(tcg, "-initrd")).isEqualTo("/k/initrd");
        assertThat(after(tcg, "-append")).isEqualTo("console=ttyS0");
        assertThat(after(tcg, "-action")).isEqualTo("reboot=reset,shutdown=poweroff,panic=shutdown");
        assertThat(tcg).doesNotContain("-boot", "-no-reboot");
        List<String> kvm = QemuCommandLine.build(QEMU, base().vcpus(new Vcpus(4, 1, new Vcpus.Topology(1, 1, 2, 2)))
                .cpu(Cpu.named("qemu64")).build(), RUN, true, false);
        assertThat(after(kvm, "-accel")).isEqualTo("kvm");
        assertThat(after(kvm, "-smp")).isEqualTo("1,maxcpus=4,sockets=1,dies=1,cores=2,threads=2");
        assertThat(after(kvm, "-cpu")).isEqualTo("qemu64");
        assertThat(after(QemuCommandLine.build(QEMU, base().build(), RUN, true, false), "-cpu")).isEqualTo("host");
        assertThat(after(build(base().cpu(new Cpu(Cpu.Mode.MAX, null)).build()), "-cpu")).isEqualTo("max");
    }

    @Test
    void extraArgumentsComeLast_andTheEnvironmentIsKeptForTheProcess() {
        VmSpec spec = base().extraArgs(List.of("-device", "pvpanic")).env("QEMU_AUDIO_DRV", "none").build();
        List<String> cmd = build(spec);
        assertThat(cmd.subList(cmd.size() - 2, cmd.size())).containsExactly("-device", "pvpanic");
        assertThat(spec.env()).containsEntry("QEMU_AUDIO_DRV", "none");
    }

    @Test
    void putsTheQmpSocketAndPidFileInTheRunFolder_escapingCommas() {
        List<String> cmd = QemuCommandLine.build(QEMU, base().build(), new RunFolder(Path.of("/run/a,b")), false, false);
        assertThat(cmd).contains("socket,id=qmp,path=/run/a,,b/qmp.sock,server=on,wait=off");
        assertThat(after(cmd, "-pidfile")).isEqualTo("/run/a,b/qemu.pid");
        assertThat(cmd).doesNotContain("-daemonize", "-incoming", "-S");
        assertThat(after(cmd, "-display")).isEqualTo("none");
        assertThat(cmd).contains("-nodefaults", "-no-user-config");
    }

    @Test
    void incomingWaitsForAStreamWithCpusStopped() {
        List<String> cmd = QemuCommandLine.build(QEMU, base().build(), RUN, false, true);
        assertThat(cmd).contains("-S");
        assertThat(after(cmd, "-incoming")).isEqualTo("defer");
    }

    @Test
    void refusesSocketPathsLongerThanAUnixSocketHolds() {
        Path deep = Path.of("/" + "d".repeat(100));
        assertThatThrownBy(() -> QemuCommandLine.build(QEMU, base().build(), new RunFolder(deep), false, false))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("too long");
        assertThatThrownBy(() -> build(base().agent(new AgentChannel(deep.resolve("qga.sock"), null)).build()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("too long");
    }

    @Test
    void theSpecRefusesWhatQemuWouldRefuseLate() {
        Path f = Path.of("/x");
        assertThatThrownBy(() -> Disk.virtio("a,b", f)).hasMessageContaining("node name");
        assertThatThrownBy(() -> new Disk("a,b", Disk.Bus.VIRTIO, Disk.Media.CDROM, true, null, List.of(), null, null, null, null))
                .hasMessageContaining("disk id");
        assertThatThrownBy(() -> BlockLayer.of(f, BlockLayer.Format.QCOW2, "x".repeat(30)))
                .hasMessageContaining("format node name");
        assertThatThrownBy(() -> base().disk(Disk.virtio("vda", f)).disk(chainDisk("vdb",
                List.of(BlockLayer.of(f, BlockLayer.Format.QCOW2, "vda")), false)).build())
                .hasMessageContaining("node name vda-format (vdb) is used twice");
        assertThatThrownBy(() -> base().disk(Disk.virtio("vda", f)).disk(Disk.virtio("vda", Path.of("/y"))).build())
                .hasMessageContaining("device id vda is used twice");
        assertThatThrownBy(() -> base().memory(new Memory(512, 256)).build()).hasMessageContaining("needs a balloon");
        assertThatThrownBy(() -> new Memory(8, 8)).hasMessageContaining("memory");
        assertThatThrownBy(() -> base().nic(new Nic("net0", new Nic.User(), "virtio-net-pci", "52:54:00:00:00:01",
                PciAddress.of(3, 0), null)).build()).hasMessageContaining("net0: PCI bus 3 has no controller");
        assertThatThrownBy(() -> base().balloon(new Balloon(PciAddress.of(0, 4))).rng(new Rng(Path.of("/dev/random"),
                null, null, PciAddress.of(0, 4))).build()).hasMessageContaining("rng0 and balloon0 share PCI address 0:4.0");
        assertThatThrownBy(() -> base().machine(Machine.Q35).disk(new Disk("hda", Disk.Bus.IDE, Disk.Media.DISK, false,
                null, List.of(BlockLayer.of(f, BlockLayer.Format.RAW, "h")), null, null, new DriveAddress(0, 0, 0, 0), null))
                .build()).hasMessageContaining("q35 has no IDE controller");
        assertThatThrownBy(() -> base().disk(new Disk("sda", Disk.Bus.SATA, Disk.Media.DISK, false, null,
                List.of(BlockLayer.of(f, BlockLayer.Format.RAW, "h")), null, null, new DriveAddress(0, 0, 0, 0), null))
                .build()).hasMessageContaining("needs SATA controller 0");
        assertThatThrownBy(() -> base().input(new UsbInput(UsbInput.Kind.TABLET, 0, null)).build())
                .hasMessageContaining("needs a USB controller");
        assertThatThrownBy(() -> base().disk(new Disk("vda", Disk.Bus.VIRTIO, Disk.Media.DISK, false, null,
                List.of(BlockLayer.of(f, BlockLayer.Format.RAW, "a")), 1, null, null, null)).nic(new Nic("net0",
                new Nic.User(), "e1000", "52:54:00:00:00:01", null, 1)).build()).hasMessageContaining("boot index 1 is used twice");
        assertThatThrownBy(() -> new Nic("net0", new Nic.User(), "e1000", "53:54:00:00:00:01", null, null))
                .hasMessageContaining("multicast");
        assertThatThrownBy(() -> new Machine("virt")).hasMessageContaining("machine type");
        assertThatThrownBy(() -> new DiskTuning(DiskTuning.Cache.WRITEBACK, null, DiskTuning.Aio.NATIVE, null))
                .hasMessageContaining("aio native needs");
        assertThatThrownBy(() -> base().video(new Video(Video.Model.VIRTIO, false, null, null, null, null, null, null)).build())
                .hasMessageContaining("exactly one primary");
    }
}
