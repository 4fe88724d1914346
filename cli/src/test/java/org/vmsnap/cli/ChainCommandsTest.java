package org.vmsnap.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.qcow2.BlockDevice;
import org.vmsnap.qcow2.Images;
import org.vmsnap.qcow2.OpenOptions;
import org.vmsnap.qcow2.Qcow2CreateOptions;
import org.vmsnap.qcow2.Qcow2Image;

/** img commit and img rebase in process: output, progress, quiet mode and argument errors. */
class ChainCommandsTest {
    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    /** base.qcow2 (0x11 in the first MiB) <- top.qcow2 (0x22 at 2 MiB). */
    private Path chain() throws IOException {
        Path base = dir.resolve("base.qcow2");
        try (Qcow2Image b = Qcow2Image.create(base, Qcow2CreateOptions.ofSize(4 * MIB))) {
            b.write(0, ByteBuffer.wrap(filled((int) MIB, 0x11)));
        }
        Path top = dir.resolve("top.qcow2");
        try (Qcow2Image t = Qcow2Image.create(top, Qcow2CreateOptions.ofSize(-1).withBacking("base.qcow2", "qcow2"))) {
            t.write(2 * MIB, ByteBuffer.wrap(filled(65536, 0x22)));
        }
        return top;
    }

    private static byte[] filled(int n, int value) {
        byte[] b = new byte[n];
        Arrays.fill(b, (byte) value);
        return b;
    }

    private static byte readByte(Path image, long offset) throws IOException {
        try (BlockDevice d = Images.open(image, OpenOptions.readOnlyOpen())) {
            ByteBuffer one = ByteBuffer.allocate(1);
            d.read(offset, one);
            return one.get(0);
        }
    }

    @Test
    void commitSaysSoAndShowsProgress() throws IOException {
        Path top = chain();
        Cli.Run r = Cli.run("img", "commit", "-p", top.toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).startsWith("    (0.00/100%)\r").endsWith("    (100.00/100%)\r\nImage committed.\n");
        assertThat(readByte(dir.resolve("base.qcow2"), 2 * MIB)).isEqualTo((byte) 0x22);
        Cli.Run quiet = Cli.run("img", "commit", "-q", "-p", top.toString());
        assertThat(quiet.exitCode()).isZero();
        assertThat(quiet.out()).isEmpty();
        Cli.Run plain = Cli.run("img", "commit", "-d", top.toString());
        assertThat(plain.out()).as("no bar without -p").isEqualTo("Image committed.\n");
    }

    @Test
    void rebaseIsSilentShowsProgressAndFlattens() throws IOException {
        Path top = chain();
        Cli.Run r = Cli.run("img", "rebase", "-p", "-b", "", top.toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).endsWith("    (100.00/100%)\r\n");
        try (Qcow2Image t = Qcow2Image.open(top, OpenOptions.readOnlyOpen())) {
            assertThat(t.backingFileName()).isNull();
        }
        assertThat(readByte(top, 0)).isEqualTo((byte) 0x11);
        Cli.Run unsafe = Cli.run("img", "rebase", "-u", "-b", "base.qcow2", "-F", "qcow2", top.toString());
        assertThat(unsafe.exitCode()).isZero();
        assertThat(unsafe.out()).isEmpty();
        try (Qcow2Image t = Qcow2Image.open(top, OpenOptions.readOnlyOpen())) {
            assertThat(t.backingFileName()).isEqualTo("base.qcow2");
        }
    }

    @Test
    void argumentErrorsAreOneLine() throws IOException {
        Path top = chain();
        Cli.Run noBacking = Cli.run("img", "rebase", top.toString());
        assertThat(noBacking.exitCode()).isEqualTo(1);
        assertThat(noBacking.err()).isEqualTo("vmsnap: Must specify backing file (-b) or use unsafe mode (-u)\n");
        Cli.Run missing = Cli.run("img", "commit", dir.resolve("nope.qcow2").toString());
        assertThat(missing.exitCode()).isEqualTo(1);
        assertThat(missing.err()).isEqualTo("vmsnap: Could not open '" + dir.resolve("nope.qcow2")
                + "': No such file or directory\n");
        Cli.Run noBase = Cli.run("img", "commit", "-b", "elsewhere.qcow2", top.toString());
        assertThat(noBase.err()).isEqualTo("vmsnap: " + top
                + ": Did not find 'elsewhere.qcow2' in the backing chain of '" + top + "'\n");
        Cli.Run noFormat = Cli.run("img", "rebase", "-u", "-b", "base.qcow2", top.toString());
        assertThat(noFormat.err()).isEqualTo("vmsnap: " + top
                + ": Could not change the backing file to 'base.qcow2': backing format must be specified\n");
        assertThat(Cli.run("img", "--help").out()).contains("commit").contains("rebase");
    }
}
