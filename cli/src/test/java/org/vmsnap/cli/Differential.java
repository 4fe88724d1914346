package org.vmsnap.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** Runs the same img command through qemu-img and vmsnap and compares what they print. */
final class Differential {

    private Differential() {
    }

    /** {@code qemu-img ARGS} and {@code vmsnap img ARGS} print the same stdout and exit alike. */
    static Cli.Run assertSame(String... args) {
        Cli.Run qemu = QemuImg.run(args);
        Cli.Run ours = Cli.run(prepend("img", args));
        assertThat(ours.out()).as("stdout of vmsnap img %s (stderr: %s)", String.join(" ", args), ours.err())
                .isEqualTo(qemu.out());
        assertThat(ours.exitCode()).as("exit code of vmsnap img %s (stderr: %s; qemu stderr: %s)",
                String.join(" ", args), ours.err(), qemu.err()).isEqualTo(qemu.exitCode());
        return ours;
    }

    /** Error lines of qemu-img without the "qemu-img: " prefix, for comparing messages. */
    static List<String> qemuErrors(Cli.Run qemu) {
        return qemu.err().lines().filter(l -> l.startsWith("qemu-img: ")).map(l -> l.substring(10)).toList();
    }

    static String[] prepend(String first, String... rest) {
        List<String> all = new ArrayList<>();
        all.add(first);
        all.addAll(List.of(rest));
        return all.toArray(String[]::new);
    }

    /** A raw file of {@code size} bytes, every byte written (no holes), seeded random content. */
    static Path denseRaw(Path file, int size, long seed) throws IOException {
        byte[] data = new byte[size];
        new Random(seed).nextBytes(data);
        java.nio.file.Files.write(file, data);
        return file;
    }

    /** A sparse raw file: {@code size} bytes, with {@code length} bytes of {@code value} at each offset. */
    static Path sparseRaw(Path file, long size, byte value, int length, long... offsets) throws IOException {
        try (java.io.RandomAccessFile raf = new java.io.RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(size);
            FileChannel ch = raf.getChannel();
            byte[] b = new byte[length];
            java.util.Arrays.fill(b, value);
            for (long off : offsets) {
                ch.write(ByteBuffer.wrap(b), off);
            }
        }
        return file;
    }

    static void append(Path file, byte[] bytes) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
            ch.write(ByteBuffer.wrap(bytes));
        }
    }
}
