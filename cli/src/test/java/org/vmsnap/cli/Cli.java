package org.vmsnap.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.vmsnap.qcow2.Qcow2CreateOptions;
import org.vmsnap.qcow2.Qcow2Image;

/** Runs vmsnap in this process with captured output. */
public final class Cli {

    /** What one run printed and returned. */
    public record Run(int exitCode, String out, String err) {
    }

    private Cli() {
    }

    public static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(new PrintWriter(out), new PrintWriter(err), args);
        return new Run(code, out.toString(), err.toString());
    }

    /**
     * Points vmsnap at {@code dir/home} and defines a shut-off domain "vm" with one disk, vda, an
     * empty 1 MiB qcow2 image {@code dir/sys.qcow2}.
     */
    public static void defineOneDiskVm(Path dir) throws IOException {
        System.setProperty("vmsnap.home", dir.resolve("home").toString());
        try (Qcow2Image img = Qcow2Image.create(dir.resolve("sys.qcow2"), Qcow2CreateOptions.ofSize(1 << 20))) {
            if (!img.snapshots().isEmpty()) {
                throw new AssertionError("a new image has snapshots");
            }
        }
        defineVm(dir, dir.resolve("sys.qcow2"));
    }

    /**
     * State folder {@code dir/home} (the {@code vmsnap.home} property), domain {@code vm} defined
     * from {@code dir/vm.xml} with {@code disk} as its one qcow2 disk, vda.
     */
    public static void defineVm(Path dir, Path disk) throws IOException {
        System.setProperty("vmsnap.home", dir.resolve("home").toString());
        Path xml = dir.resolve("vm.xml");
        Files.writeString(xml, """
                <domain type='kvm'>
                  <name>vm</name>
                  <memory unit='KiB'>65536</memory>
                  <vcpu>1</vcpu>
                  <os><type arch='x86_64'>hvm</type></os>
                  <devices>
                    <disk type='file' device='disk'>
                      <driver name='qemu' type='qcow2'/>
                      <source file='%s'/>
                      <target dev='vda' bus='virtio'/>
                    </disk>
                  </devices>
                </domain>
                """.formatted(disk));
        Run r = run("define", xml.toString());
        if (r.exitCode() != 0) {
            throw new AssertionError("define " + xml + ": " + r.err());
        }
    }
}
