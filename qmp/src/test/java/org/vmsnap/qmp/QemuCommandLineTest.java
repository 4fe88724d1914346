package org.vmsnap.qmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The QEMU command line built from a VmSpec, option by option. */
class QemuCommandLineTest {

    private static final Path QEMU = Path.of("/usr/bin/qemu-system-x86_64");

    private static VmSpec spec(List<VmSpec.Disk> disks) {
        return new VmSpec("vm1", 256, 2, Path.of("/k/vmlinuz"), Path.of("/k/initrd"), "console=ttyS0", disks, VmSpec.Accel.TCG);
    }

    private static String after(List<String> cmd, String option) {
        int i = cmd.indexOf(option);
        assertThat(i).as(option).isNotNegative();
        return cmd.get(i + 1);
    }

    @Test
    void buildsTheBlockdevGraphWithStableNodeNames() throws Exception {
        List<String> cmd = QemuCommandLine.build(QEMU, spec(List.of(VmSpec.Disk.qcow2("data", Path.of("/d/a,b.qcow2")),
                new VmSpec.Disk("base", Path.of("/d/base.raw"), "raw", true))), new RunFolder(Path.of("/run/vm1")), false, false);
        List<String> blockdevs = java.util.stream.IntStream.range(0, cmd.size()).filter(i -> cmd.get(i).equals("-blockdev"))
                .mapToObj(i -> cmd.get(i + 1)).toList();
        assertThat(blockdevs).hasSize(2);
        JsonNode data = new ObjectMapper().readTree(blockdevs.get(0));
        assertThat(data.path("driver").asText()).isEqualTo("qcow2");
        assertThat(data.path("node-name").asText()).isEqualTo("data");
        assertThat(data.path("file").path("node-name").asText()).isEqualTo("data-file");
        assertThat(data.path("file").path("filename").asText()).as("JSON needs no comma escaping").isEqualTo("/d/a,b.qcow2");
        JsonNode base = new ObjectMapper().readTree(blockdevs.get(1));
        assertThat(base.path("read-only").asBoolean()).isTrue();
        assertThat(base.path("file").path("read-only").asBoolean()).isTrue();
        assertThat(cmd).contains("virtio-blk-pci,drive=data,id=data-dev", "virtio-blk-pci,drive=base,id=base-dev");
    }

    @Test
    void putsSocketsLogAndPidFileInTheRunFolder_escapingCommas() {
        List<String> cmd = QemuCommandLine.build(QEMU, spec(List.of()), new RunFolder(Path.of("/run/a,b")), false, false);
        assertThat(cmd).contains("socket,id=qmp,path=/run/a,,b/qmp.sock,server=on,wait=off",
                "socket,id=qga0,path=/run/a,,b/qga.sock,server=on,wait=off",
                "virtserialport,bus=vser0.0,chardev=qga0,name=org.qemu.guest_agent.0",
                "file,id=serial0,append=on,path=/run/a,,b/serial.log");
        assertThat(after(cmd, "-pidfile")).isEqualTo("/run/a,b/qemu.pid");
        assertThat(cmd).doesNotContain("-daemonize", "-incoming", "-S");
    }

    @Test
    void memoryCpusKernelAndAccelerator() {
        List<String> tcg = QemuCommandLine.build(QEMU, spec(List.of()), new RunFolder(Path.of("/r")), false, false);
        assertThat(tcg.getFirst()).isEqualTo(QEMU.toString());
        assertThat(after(tcg, "-m")).isEqualTo("256M");
        assertThat(after(tcg, "-smp")).isEqualTo("2");
        assertThat(after(tcg, "-accel")).isEqualTo("tcg");
        assertThat(tcg).doesNotContain("-cpu");
        assertThat(after(tcg, "-kernel")).isEqualTo("/k/vmlinuz");
        assertThat(after(tcg, "-initrd")).isEqualTo("/k/initrd");
        assertThat(after(tcg, "-append")).isEqualTo("console=ttyS0");
        List<String> kvm = QemuCommandLine.build(QEMU, spec(List.of()), new RunFolder(Path.of("/r")), true, false);
        assertThat(after(kvm, "-accel")).isEqualTo("kvm");
        assertThat(after(kvm, "-cpu")).isEqualTo("host");
    }

    @Test
    void incomingWaitsForAStreamWithCpusStopped() {
        List<String> cmd = QemuCommandLine.build(QEMU, spec(List.of()), new RunFolder(Path.of("/r")), false, true);
        assertThat(cmd).contains("-S");
        assertThat(after(cmd, "-incoming")).isEqualTo("defer");
    }

    @Test
    void refusesSocketPathsLongerThanAUnixSocketHolds() {
        Path deep = Path.of("/" + "d".repeat(100));
        assertThatThrownBy(() -> QemuCommandLine.build(QEMU, spec(List.of()), new RunFolder(deep), false, false))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("too long");
    }

    @Test
    void vmSpecRejectsUnsafeNamesAndDuplicateNodes() {
        assertThatThrownBy(() -> VmSpec.Disk.qcow2("a,b", Path.of("/x")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("node name");
        assertThatThrownBy(() -> new VmSpec.Disk("d", Path.of("/x"), "vmdk", false))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("qcow2 or raw");
        assertThatThrownBy(() -> spec(List.of(VmSpec.Disk.qcow2("d", Path.of("/x")), VmSpec.Disk.qcow2("d", Path.of("/y")))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("share the node name d");
        assertThatThrownBy(() -> new VmSpec("vm", 8, 1, Path.of("/k"), null, "", List.of(), VmSpec.Accel.AUTO))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("memory");
    }
}
