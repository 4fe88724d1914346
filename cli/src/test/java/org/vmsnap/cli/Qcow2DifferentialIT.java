package org.vmsnap.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.vmsnap.cli.Differential.assertSame;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.List;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * vmsnap against qemu-img on qcow2 images that qemu-img and qemu-io made, and qemu-img
 * judging the qcow2 images vmsnap made. Needs the qcow2 engine.
 */
class Qcow2DifferentialIT {

    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    private Path base;
    private Path top;

    private String f(String name) {
        return dir.resolve(name).toString();
    }

    @BeforeEach
    void images() throws IOException {
        base = dir.resolve("base.qcow2");
        QemuImg.ok("create", "-f", "qcow2", base.toString(), "4M");
        QemuImg.io(base, "qcow2", "write -P 0xab 0 192k", "write -c -P 0x22 1M 64k", "write -z 2M 64k",
                "write -P 3 3M 64k");
        Files.createDirectories(dir.resolve("sub"));
        Files.copy(base, dir.resolve("sub/base.qcow2"));
        top = dir.resolve("sub/top.qcow2");
        QemuImg.ok("create", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", top.toString());
        QemuImg.io(top, "qcow2", "write -P 0x33 64k 64k", "write -z 3M 64k", "write -P 7 3200k 64k");
    }

    @Test
    void infoLikeQemu() throws IOException {
        Path v2 = dir.resolve("v2.qcow2");
        QemuImg.ok("create", "-f", "qcow2", "-o", "compat=0.10", v2.toString(), "1G");
        QemuImg.ok("snapshot", "-c", "first", v2.toString());
        QemuImg.ok("snapshot", "-c", "a much longer snapshot name, é", v2.toString());
        Path odd = dir.resolve("odd.qcow2");
        QemuImg.ok("create", "-f", "qcow2", "-o", "cluster_size=2M,refcount_bits=64,lazy_refcounts=on,compression_type=zstd",
                odd.toString(), "1T");
        Path missing = dir.resolve("missing-backing.qcow2");
        QemuImg.ok("create", "-f", "qcow2", "-u", "-b", "nowhere.qcow2", "-F", "qcow2", missing.toString(), "1M");
        for (Path p : List.of(base, top, v2, odd, missing)) {
            assertSame("info", p.toString());
            assertSame("info", "--output=json", p.toString());
            assertSame("info", "-U", "-f", "qcow2", p.toString());
        }
        assertSame("info", "--backing-chain", top.toString());
        assertSame("info", "--backing-chain", "--output=json", top.toString());
        assertSame("info", "-f", "qcow2", dir.resolve("sub/../sub/top.qcow2").toString());
    }

    @Test
    void mapLikeQemu() throws IOException {
        Path plain = dir.resolve("plain.qcow2");
        QemuImg.ok("create", "-f", "qcow2", plain.toString(), "8M");
        QemuImg.io(plain, "qcow2", "write -P 1 0 128k", "write -P 2 192k 64k", "write -z 1M 1M", "write -P 3 7M 1M");
        for (Path p : List.of(base, top, plain)) {
            assertSame("map", "--output=json", p.toString());
            assertSame("map", p.toString());   // base and top: compressed cluster, an error after the first lines
            assertSame("map", "-f", "qcow2", "--output=json", p.toString());
        }
        assertSame("map", "-f", "raw", "--output=json", plain.toString());
    }

    @Test
    void checkLikeQemu() throws IOException {
        Path clean = dir.resolve("clean.qcow2");
        QemuImg.ok("create", "-f", "qcow2", clean.toString(), "4M");
        QemuImg.io(clean, "qcow2", "write -P 0xab 0 64k", "write -P 0x11 2M 128k");
        Path leaky = dir.resolve("leaky.qcow2");
        Files.copy(clean, leaky);
        try (FileChannel ch = FileChannel.open(leaky, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(1), 9 * 65536 - 1);
        }
        setRefcount(leaky, 8, 1);
        Path corrupt = dir.resolve("corrupt.qcow2");
        Files.copy(clean, corrupt);
        setRefcount(corrupt, 5, 0);
        Path empty = dir.resolve("empty.qcow2");
        QemuImg.ok("create", "-f", "qcow2", empty.toString(), "1G");
        Path work = dir.resolve("work.qcow2");
        for (Path image : List.of(clean, leaky, corrupt, empty, base, top)) {
            for (String[] opts : List.of(new String[0], new String[] {"--output=json"}, new String[] {"-r", "leaks"},
                    new String[] {"-r", "all"}, new String[] {"-r", "all", "--output=json"})) {
                Files.copy(image, work, StandardCopyOption.REPLACE_EXISTING);
                Cli.Run qemu = QemuImg.run(args("check", work.toString(), opts));
                int afterQemu = QemuImg.run("check", work.toString()).exitCode();
                Files.copy(image, work, StandardCopyOption.REPLACE_EXISTING);
                Cli.Run ours = Cli.run(args("img", "check", work.toString(), opts));
                int afterOurs = QemuImg.run("check", work.toString()).exitCode();
                String what = image.getFileName() + " " + List.of(opts);
                assertThat(ours.exitCode()).as(what + ": " + ours.err()).isEqualTo(qemu.exitCode());
                if (qemu.exitCode() != 1) {   // 1: qemu-img failed the check with an errno message
                    assertThat(ours.out()).as(what).isEqualTo(qemu.out());
                    assertThat(ours.err().lines().filter(l -> !l.startsWith("vmsnap: ")).toList()).as(what)
                            .isEqualTo(qemu.err().lines().filter(l -> !l.startsWith("qemu-img: ")).toList());
                }
                assertThat(afterOurs).as("qemu-img check after " + what).isEqualTo(afterQemu);
            }
        }
    }

    /** Flattens strings and string arrays into one argument list. */
    static String[] args(Object... parts) {
        List<String> all = new java.util.ArrayList<>();
        for (Object p : parts) {
            if (p instanceof String[] many) {
                all.addAll(List.of(many));
            } else {
                all.add((String) p);
            }
        }
        return all.toArray(String[]::new);
    }

    /** Sets a 16-bit refcount in the first refcount block, as a hex editor would. */
    private static void setRefcount(Path image, long cluster, int value) throws IOException {
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer header = ByteBuffer.allocate(104);
            ch.read(header, 0);
            long refcountTable = header.getLong(48);
            ByteBuffer entry = ByteBuffer.allocate(8);
            ch.read(entry, refcountTable);
            ch.write(ByteBuffer.allocate(2).putShort(0, (short) value), entry.getLong(0) + 2 * cluster);
        }
    }

    @Test
    void convertQcow2ToRawLikeQemu() throws IOException {
        Files.createDirectories(dir.resolve("q"));
        Files.createDirectories(dir.resolve("v"));
        for (Path src : List.of(base, top)) {
            String name = src.getFileName() + ".raw";
            QemuImg.ok("convert", "-O", "raw", src.toString(), f("q/" + name));
            Cli.Run ours = Cli.run("img", "convert", "-O", "raw", src.toString(), f("v/" + name));
            assertThat(ours.exitCode()).as(ours.err()).isZero();
            assertThat(QemuImg.run("compare", src.toString(), f("v/" + name)).out()).isEqualTo("Images are identical.\n");
            assertThat(QemuImg.ok("map", "--output=json", f("v/" + name)))
                    .isEqualTo(QemuImg.ok("map", "--output=json", f("q/" + name)));
        }
    }

    @Test
    void convertToQcow2LikeQemu() throws IOException {
        Files.createDirectories(dir.resolve("q"));
        Files.createDirectories(dir.resolve("v"));
        Path raw = Differential.sparseRaw(dir.resolve("src.raw"), 8 * MIB, (byte) 0x5a, 70000, 0, 3 * MIB + 5, 7 * MIB);
        String[][] cases = {
            {"-f", "raw", "-O", "qcow2", raw.toString()},
            {"-O", "qcow2", "-o", "cluster_size=4k,compat=0.10", raw.toString()},
            {"-O", "qcow2", top.toString()},
            {"-O", "qcow2", "-B", dir.resolve("sub/base.qcow2").toString(), "-F", "qcow2", top.toString()},
        };
        int i = 0;
        for (String[] c : cases) {
            String name = "out" + i++ + ".qcow2";
            QemuImg.ok(Differential.prepend("convert", concat(c, f("q/" + name))));
            Cli.Run ours = Cli.run(Differential.prepend("img", Differential.prepend("convert", concat(c, f("v/" + name)))));
            assertThat(ours.exitCode()).as(List.of(c) + ": " + ours.err()).isZero();
            assertThat(QemuImg.run("check", f("v/" + name)).exitCode()).as(List.of(c).toString()).isZero();
            assertThat(QemuImg.run("compare", c[c.length - 1], f("v/" + name)).out()).as(List.of(c).toString())
                    .isEqualTo("Images are identical.\n");
            assertThat(withoutOffsets(QemuImg.ok("map", "--output=json", f("v/" + name)))).as(List.of(c).toString())
                    .isEqualTo(withoutOffsets(QemuImg.ok("map", "--output=json", f("q/" + name))));
            String qInfo = QemuImg.ok("info", "--output=json", f("q/" + name)).replaceAll("\"actual-size\": \\d+", "");
            String vInfo = QemuImg.ok("info", "--output=json", f("v/" + name)).replaceAll("\"actual-size\": \\d+", "");
            assertThat(vInfo.replace(f("v/"), f("q/"))).isEqualTo(qInfo);
        }
        // -c: zlib (QEMU inflates with a 4 KiB window) and zstd; QEMU must read the same data.
        for (String type : new String[] {"zlib", "zstd"}) {
            String out = f("v/c-" + type + ".qcow2");
            Cli.Run compressed = Cli.run("img", "convert", "-c", "-O", "qcow2", "-o", "compression_type=" + type,
                    raw.toString(), out);
            assertThat(compressed.exitCode()).as(compressed.err()).isZero();
            assertThat(QemuImg.run("check", out).exitCode()).isZero();
            assertThat(QemuImg.run("compare", raw.toString(), out).out()).isEqualTo("Images are identical.\n");
            assertThat(QemuImg.ok("info", "--output=json", out)).contains("\"compression-type\": \"" + type + "\"");
        }
    }

    private static String[] concat(String[] a, String last) {
        String[] all = java.util.Arrays.copyOf(a, a.length + 1);
        all[a.length] = last;
        return all;
    }

    private static String withoutOffsets(String mapJson) {
        return mapJson.replaceAll(", \"offset\": \\d+", "");
    }

    @Test
    void compareLikeQemu() throws IOException {
        Path raw = dir.resolve("base.raw");
        QemuImg.ok("convert", "-O", "raw", base.toString(), raw.toString());
        Path topRaw = dir.resolve("top.raw");
        QemuImg.ok("convert", "-O", "raw", top.toString(), topRaw.toString());
        Path copy = dir.resolve("copy.qcow2");
        QemuImg.ok("convert", "-O", "qcow2", base.toString(), copy.toString());
        Path bigger = dir.resolve("bigger.qcow2");
        QemuImg.ok("create", "-f", "qcow2", "-b", base.toString(), "-F", "qcow2", bigger.toString(), "8M");
        QemuImg.io(bigger, "qcow2", "write -P 9 6M 512");
        Path empty = dir.resolve("empty.qcow2");
        QemuImg.ok("create", "-f", "qcow2", empty.toString(), "4M");
        List<Path> all = List.of(base, top, raw, topRaw, copy, bigger, empty);
        for (Path a : all) {
            for (Path b : all) {
                assertSame("compare", a.toString(), b.toString());
            }
        }
        assertSame("compare", "-s", base.toString(), base.toString());
        assertSame("compare", "-s", base.toString(), copy.toString());
        assertSame("compare", "-s", empty.toString(), base.toString());
        assertSame("compare", "-s", base.toString(), bigger.toString());
        assertSame("compare", "-f", "qcow2", "-F", "raw", base.toString(), raw.toString());
    }

    @Test
    void createdImagesAreWhatQemuCreates() throws IOException {
        Files.createDirectories(dir.resolve("q"));
        Files.createDirectories(dir.resolve("v"));
        Files.copy(base, dir.resolve("q/b.qcow2"));
        Files.copy(base, dir.resolve("v/b.qcow2"));
        String[][] cases = {
            {"1G"},
            {"-o", "cluster_size=4k,refcount_bits=1,lazy_refcounts=on,compression_type=zstd", "1G"},
            {"-o", "cluster_size=512,refcount_bits=64", "3M"},
            {"-o", "cluster_size=2M", "5G"},
            {"-o", "preallocation=metadata", "64M"},
            {"-o", "compat=0.10", "1.5G"},
            {"-b", "b.qcow2", "-F", "qcow2", ""},
            {"-b", "b.qcow2", "-F", "qcow2", "8M"},
            {"-u", "-b", "missing.qcow2", "-F", "qcow2", "1M"},
            {"1023"},
        };
        int i = 0;
        for (String[] c : cases) {
            String name = "c" + i++ + ".qcow2";
            String size = c[c.length - 1];
            String[] opts = java.util.Arrays.copyOf(c, c.length - 1);
            String[] qArgs = Differential.prepend("create", Differential.prepend("-f", Differential.prepend("qcow2",
                    size.isEmpty() ? concat(opts, f("q/" + name)) : concat(concat(opts, f("q/" + name)), size))));
            Cli.Run qemu = QemuImg.run(qArgs);
            String[] vArgs = Differential.prepend("img", Differential.prepend("create", Differential.prepend("-f",
                    Differential.prepend("qcow2", size.isEmpty() ? concat(opts, f("v/" + name))
                            : concat(concat(opts, f("v/" + name)), size)))));
            Cli.Run ours = Cli.run(vArgs);
            assertThat(ours.out().replace(f("v/"), f("q/"))).isEqualTo(qemu.out());
            assertThat(ours.exitCode()).as(List.of(c) + ": " + ours.err()).isEqualTo(qemu.exitCode());
            // qemu-img check judges both files alike (exit 1 for both when the backing file is missing).
            assertThat(QemuImg.run("check", f("v/" + name)).exitCode()).as(List.of(c).toString())
                    .isEqualTo(QemuImg.run("check", f("q/" + name)).exitCode());
            String qInfo = QemuImg.ok("info", "-U", "--output=json", f("q/" + name)).replaceAll("\"actual-size\": \\d+", "");
            String vInfo = QemuImg.ok("info", "-U", "--output=json", f("v/" + name)).replaceAll("\"actual-size\": \\d+", "");
            assertThat(vInfo.replace(f("v/"), f("q/"))).as(List.of(c).toString()).isEqualTo(qInfo);
            if (qemu.exitCode() == 0) {
                // Byte for byte (the header's extensions too: QEMU names no features in clusters of
                // 4 KiB or less); QEMU's file ends after its last nonzero byte, vmsnap's may go on in zeros.
                byte[] q = Files.readAllBytes(dir.resolve("q/" + name));
                byte[] v = Files.readAllBytes(dir.resolve("v/" + name));
                assertThat(v.length).as(List.of(c).toString()).isGreaterThanOrEqualTo(q.length);
                assertThat(java.util.Arrays.mismatch(q, java.util.Arrays.copyOf(v, q.length)))
                        .as(List.of(c) + ": first differing byte").isEqualTo(-1);
                assertThat(java.util.Arrays.copyOfRange(v, q.length, v.length)).as(List.of(c) + ": the tail")
                        .isEqualTo(new byte[v.length - q.length]);
            }
        }
    }

    @Test
    void resizeLikeQemu() throws IOException {
        Files.createDirectories(dir.resolve("q"));
        Files.createDirectories(dir.resolve("v"));
        QemuImg.ok("create", "-f", "qcow2", f("q/r.qcow2"), "4M");
        QemuImg.ok("create", "-f", "qcow2", f("v/r.qcow2"), "4M");
        String[][] steps = {{"+1M"}, {"-1M"}, {"--shrink", "2M"}, {"1023"}, {"--shrink", "0"}, {"1G"}, {"+0"}};
        for (String[] step : steps) {
            String[] flags = java.util.Arrays.copyOf(step, step.length - 1);
            String size = step[step.length - 1];
            Cli.Run qemu = QemuImg.run(args("resize", flags, f("q/r.qcow2"), size));
            Cli.Run ours = Cli.run(args("img", "resize", flags, f("v/r.qcow2"), size));
            assertThat(ours.out()).isEqualTo(qemu.out());
            assertThat(ours.exitCode()).as(List.of(step) + ": " + ours.err()).isEqualTo(qemu.exitCode());
            assertThat(QemuImg.run("check", f("v/r.qcow2")).exitCode()).isZero();
            assertThat(QemuImg.ok("info", "--output=json", f("v/r.qcow2")).replaceAll("\"actual-size\": \\d+", "")
                    .replace(f("v/"), f("q/")))
                    .isEqualTo(QemuImg.ok("info", "--output=json", f("q/r.qcow2")).replaceAll("\"actual-size\": \\d+", ""));
        }
    }

    @Test
    void demoRunsAndAotTrainingIsSilent() {
        Cli.Run demo = Cli.run("demo", "--dir", f("demo"));
        assertThat(demo.exitCode()).as(demo.err()).isZero();
        assertThat(demo.out()).contains("$ vmsnap img convert -f raw -O qcow2").contains("No errors were found on the image.")
                .contains("Images are identical.");
        assertThat(Files.exists(dir.resolve("demo/disk.qcow2"))).isTrue();
        assertThat(QemuImg.run("compare", f("demo/source.raw"), f("demo/overlay.qcow2")).out()).isEqualTo("Images are identical.\n");

        Cli.Run aot = Cli.run("aot-training");
        assertThat(aot.exitCode()).isZero();
        assertThat(aot.out()).isEmpty();
        assertThat(aot.err()).isEmpty();

        // The img cache's training: every step worked (exit 0), silently.
        Cli.Run img = Cli.run("aot-training-img");
        assertThat(img.exitCode()).isZero();
        assertThat(img.out()).isEmpty();
        assertThat(img.err()).isEmpty();
    }
}
