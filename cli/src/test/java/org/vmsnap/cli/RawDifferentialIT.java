package org.vmsnap.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.vmsnap.cli.Differential.assertSame;
import static org.vmsnap.cli.Differential.denseRaw;
import static org.vmsnap.cli.Differential.sparseRaw;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * vmsnap against qemu-img on raw images: same output, same exit codes, same files. Needs no
 * qcow2 engine and no hole detection (dense files where allocation would show).
 */
class RawDifferentialIT {

    @TempDir
    Path dir;

    private String f(String name) {
        return dir.resolve(name).toString();
    }

    @Test
    void infoOfDenseRawFiles() throws IOException {
        // Whole 4 KiB blocks: without hole detection the allocated size is the file size.
        for (int size : new int[] {0, 4096, 65536, 1 << 20, (3 << 20) + 4096}) {
            String file = denseRaw(dir.resolve("d" + size + ".raw"), size, size).toString();
            assertSame("info", file);
            assertSame("info", "--output=json", file);
            assertSame("info", "-f", "raw", "--backing-chain", "--output=json", file);
            assertSame("info", "--backing-chain", file);
        }
    }

    @Test
    void infoOfMissingFileFailsAlike() {
        Cli.Run ours = assertSame("info", f("missing.raw"));
        Cli.Run qemu = QemuImg.run("info", f("missing.raw"));
        assertThat(ours.err()).isEqualTo("vmsnap: Could not open '" + f("missing.raw") + "': No such file or directory\n");
        assertThat(qemu.err()).contains("No such file or directory");
    }

    @Test
    void mapOfDenseRawFiles() throws IOException {
        for (int size : new int[] {512, 1023, 65536, (1 << 20) + 512}) {
            String file = denseRaw(dir.resolve("m" + size + ".raw"), size, size).toString();
            assertSame("map", file);
            assertSame("map", "--output=json", file);
            assertSame("map", "-f", "raw", "--output=json", file);
        }
        Files.createFile(dir.resolve("empty.raw"));
        assertSame("map", f("empty.raw"));
        assertSame("map", "--output=json", f("empty.raw"));
    }

    @Test
    void checkOfRawIsUnsupportedAlike() throws IOException {
        String file = denseRaw(dir.resolve("c.raw"), 4096, 1).toString();
        assertSame("check", file);
        assertSame("check", "--output=json", file);
    }

    @Test
    void compareLikeQemu() throws IOException {
        long mib = 1 << 20;
        String a = sparseRaw(dir.resolve("a.raw"), 4 * mib, (byte) 1, 4096, 0, 65536).toString();
        String same = sparseRaw(dir.resolve("same.raw"), 4 * mib, (byte) 1, 4096, 0, 65536).toString();
        String differs = sparseRaw(dir.resolve("differs.raw"), 4 * mib, (byte) 1, 4096, 0, 65536 + 1000).toString();
        String zeroData = sparseRaw(dir.resolve("zerodata.raw"), 4 * mib, (byte) 0, 65536, 0).toString();
        String empty = sparseRaw(dir.resolve("empty.raw"), 4 * mib, (byte) 0, 0).toString();
        String longer = sparseRaw(dir.resolve("longer.raw"), 8 * mib, (byte) 1, 4096, 0, 65536).toString();
        String longerDirty = sparseRaw(dir.resolve("longer2.raw"), 8 * mib, (byte) 1, 4096, 0, 65536, 6 * mib + 1000).toString();
        for (String[] pair : List.of(new String[] {a, same}, new String[] {a, differs}, new String[] {differs, a},
                new String[] {zeroData, empty}, new String[] {empty, a}, new String[] {a, longer},
                new String[] {longer, a}, new String[] {a, longerDirty}, new String[] {longerDirty, a})) {
            assertSame("compare", pair[0], pair[1]);
            assertSame("compare", "-f", "raw", "-F", "raw", pair[0], pair[1]);
        }
        assertSame("compare", "-s", a, longer);
        String dense1 = denseRaw(dir.resolve("dense1.raw"), 1 << 20, 7).toString();
        String dense2 = denseRaw(dir.resolve("dense2.raw"), 1 << 20, 7).toString();
        String dense3 = denseRaw(dir.resolve("dense3.raw"), 1 << 20, 8).toString();
        assertSame("compare", "-s", dense1, dense2);
        assertSame("compare", "-s", dense1, dense3);
        assertSame("compare", dense1, dense3);
        assertThat(QemuImg.run("compare", a, f("nope")).exitCode()).isEqualTo(Cli.run("img", "compare", a, f("nope")).exitCode());
    }

    @Test
    void convertRawToRawIsSparseLikeQemus() throws IOException {
        long mib = 1 << 20;
        Path src = sparseRaw(dir.resolve("src.raw"), 8 * mib, (byte) 0x3c, 10000, 0, 3 * mib + 100, 7 * mib);
        // A data extent that holds zeros must not be copied either.
        sparseRaw(dir.resolve("src.raw"), 8 * mib, (byte) 0, 65536, 5 * mib);
        Files.createDirectories(dir.resolve("q"));
        Files.createDirectories(dir.resolve("v"));
        QemuImg.ok("convert", "-f", "raw", "-O", "raw", src.toString(), f("q/out.raw"));
        Cli.Run ours = Cli.run("img", "convert", "-f", "raw", "-O", "raw", src.toString(), f("v/out.raw"));
        assertThat(ours.exitCode()).as(ours.err()).isZero();
        assertThat(ours.out()).isEmpty();
        assertThat(QemuImg.run("compare", src.toString(), f("v/out.raw")).out()).isEqualTo("Images are identical.\n");
        // qemu-img map sees the holes of both outputs: the same layout.
        assertThat(QemuImg.ok("map", "--output=json", f("v/out.raw")))
                .isEqualTo(QemuImg.ok("map", "--output=json", f("q/out.raw")));
        assertThat(Files.size(dir.resolve("v/out.raw"))).isEqualTo(Files.size(dir.resolve("q/out.raw")));
    }

    /**
     * Runs "create -f FORMAT OPTIONS... FILE [SIZE]" through qemu-img (in q/) and vmsnap (in v/).
     * The last element of {@code optionsThenSize} is the size, or "" for none.
     */
    private Cli.Run[] createBoth(String format, String name, String... optionsThenSize) throws IOException {
        Files.createDirectories(dir.resolve("q"));
        Files.createDirectories(dir.resolve("v"));
        List<String> q = new java.util.ArrayList<>(List.of("create", "-f", format));
        List<String> v = new java.util.ArrayList<>(List.of("img", "create", "-f", format));
        String size = optionsThenSize[optionsThenSize.length - 1];
        for (int k = 0; k < optionsThenSize.length - 1; k++) {
            q.add(optionsThenSize[k]);
            v.add(optionsThenSize[k]);
        }
        q.add(f("q/" + name));
        v.add(f("v/" + name));
        if (!size.isEmpty()) {
            q.add(size);
            v.add(size);
        }
        return new Cli.Run[] {QemuImg.run(q.toArray(String[]::new)), Cli.run(v.toArray(String[]::new))};
    }

    @Test
    void createRawMakesTheFileQemuMakes() throws IOException {
        String[][] cases = {{"1M"}, {"1023"}, {"0"}, {"1.5k"}, {"0x1000"}, {"-o", "size=3M", ""},
            {"-o", "preallocation=off", "64k"}};
        int i = 0;
        for (String[] c : cases) {
            String name = "c" + i++ + ".raw";
            Cli.Run[] runs = createBoth("raw", name, c);
            Cli.Run qemu = runs[0];
            Cli.Run ours = runs[1];
            assertThat(ours.out().replace(f("v/"), f("q/"))).as(List.of(c).toString()).isEqualTo(qemu.out());
            assertThat(ours.exitCode()).as(ours.err()).isEqualTo(qemu.exitCode());
            assertThat(Files.size(dir.resolve("v/" + name))).isEqualTo(Files.size(dir.resolve("q/" + name)));
            assertThat(QemuImg.ok("map", "--output=json", f("v/" + name)))
                    .isEqualTo(QemuImg.ok("map", "--output=json", f("q/" + name)));
            assertThat(QemuImg.ok("info", "--output=json", f("v/" + name)).replace(f("v/"), f("q/")))
                    .isEqualTo(QemuImg.ok("info", "--output=json", f("q/" + name)));
        }
    }

    @Test
    void sizeErrorsMatchQemusMessages() {
        for (String size : new String[] {"0.5", "abc", "1kb", "8E"}) {
            Cli.Run qemu = QemuImg.run("create", "-f", "raw", f("e.raw"), size);
            Cli.Run ours = Cli.run("img", "create", "-f", "raw", f("e.raw"), size);
            assertThat(ours.exitCode()).isEqualTo(qemu.exitCode()).isEqualTo(1);
            assertThat(ours.err()).isEqualTo("vmsnap: " + String.join(" ", Differential.qemuErrors(qemu)) + "\n");
        }
    }

    @Test
    void resizeRawLikeQemu() throws IOException {
        Files.createDirectories(dir.resolve("q"));
        Files.createDirectories(dir.resolve("v"));
        QemuImg.ok("create", "-f", "raw", f("q/r.raw"), "4M");
        Cli.run("img", "create", "-q", "-f", "raw", f("v/r.raw"), "4M");
        String[][] steps = {{"+1M"}, {"--shrink", "-1000"}, {"-512"}, {"3M"}, {"--shrink", "2M"}, {"+0"}};
        for (String[] step : steps) {
            String[] q = Differential.prepend("resize", Differential.prepend("-f", Differential.prepend("raw",
                    Differential.prepend(f("q/r.raw"), step))));
            String[] v = Differential.prepend("img", Differential.prepend("resize", Differential.prepend("-f",
                    Differential.prepend("raw", Differential.prepend(f("v/r.raw"), step)))));
            Cli.Run qemu = QemuImg.run(q);
            Cli.Run ours = Cli.run(v);
            assertThat(ours.out()).isEqualTo(qemu.out());
            assertThat(ours.exitCode()).as(String.join(" ", v) + ": " + ours.err()).isEqualTo(qemu.exitCode());
            if (qemu.exitCode() != 0) {
                assertThat(ours.err()).startsWith("vmsnap: " + Differential.qemuErrors(qemu).getFirst());
            }
            assertThat(Files.size(dir.resolve("v/r.raw"))).isEqualTo(Files.size(dir.resolve("q/r.raw")));
        }
    }

    @Test
    void qcow2FormattingLinesMatchQemu() throws IOException {
        // The line is compared on its own: where both tools make the image, it is the same.
        // A raw backing file: its size needs no qcow2 engine.
        Path base = dir.resolve("base.raw");
        QemuImg.ok("create", "-f", "raw", base.toString(), "3M");
        String[][] cases = {
            {"1G"},
            {"-o", "cluster_size=4k,refcount_bits=1,lazy_refcounts=on,compression_type=zstd", "1G"},
            {"-o", "preallocation=metadata", "64M"},
            {"-o", "compat=0.10", "1.5G"},
            {"-o", "compat=v3,lazy_refcounts=yes", "1M"},
            {"-b", base.toString(), "-F", "raw", ""},
            {"-b", base.toString(), "-F", "raw", "8M"},
            {"-u", "-b", "missing,name.qcow2", "-F", "raw", "1M"},
            {"-o", "size=2M,backing_file=" + base + ",backing_fmt=raw,cluster_size=64k", ""},
            {"-o", "cluster_size=1000", "1M"},
            {"-o", "refcount_bits=3", "1M"},
            {"-o", "compat=0.10,lazy_refcounts=on", "1M"},
            {"-o", "compat=0.10,refcount_bits=8", "1M"},
            {"-o", "compat=0.10,compression_type=zstd", "1M"},
            {"-o", "compression_type=lz4", "1M"},
            {"-o", "preallocation=bogus", "1M"},
            {"-o", "compat=2.0", "1M"},
            {"-o", "cluster_size=abc", "1M"},
            {"-o", "lazy_refcounts=maybe", "1M"},
            {"-o", "foo=bar", "1M"},
            {"-b", base.toString(), "-o", "preallocation=metadata", "-F", "raw", "1M"},
            {"-b", base.toString(), "1M"},
        };
        int i = 0;
        for (String[] c : cases) {
            String name = "f" + i++ + ".qcow2";
            Cli.Run[] runs = createBoth("qcow2", name, c);
            Cli.Run qemu = runs[0];
            Cli.Run ours = runs[1];
            List<String> v = List.of(c);
            String qemuLine = qemu.out().lines().filter(l -> l.startsWith("Formatting")).findFirst().orElse("");
            String ourLine = ours.out().lines().filter(l -> l.startsWith("Formatting")).findFirst().orElse("");
            // vmsnap announces only an image it will make; qemu-img also one whose options it
            // then refuses.
            assertThat(ourLine.replace(f("v/"), f("q/"))).as(v.toString()).isEqualTo(qemu.exitCode() == 0 ? qemuLine : "");
            if (qemu.exitCode() != 0) {
                assertThat(ours.exitCode()).as(v.toString()).isEqualTo(1);
                String expected = Differential.qemuErrors(qemu).getFirst().replace(f("q/"), f("v/"));
                assertThat(ours.err()).as(v.toString()).startsWith("vmsnap: " + expected);
            }
        }
    }
}
