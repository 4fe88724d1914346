package org.vmsnap.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every img command on raw images, in process (raw needs no qcow2 engine). */
class RawCommandsTest {

    @TempDir
    Path dir;

    private String file(String name) {
        return dir.resolve(name).toString();
    }

    /** A raw file of {@code size} bytes with {@code value} written at each offset of {@code at}. */
    private String rawWith(String name, long size, byte value, long... at) throws IOException {
        Path p = dir.resolve(name);
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(1), size - 1);
            for (long off : at) {
                ch.write(ByteBuffer.wrap(new byte[] {value}), off);
            }
        }
        return p.toString();
    }

    @Test
    void createPrintsTheFormattingLineAndMakesTheFile() throws IOException {
        Cli.Run r = Cli.run("img", "create", "-f", "raw", file("a.raw"), "4M");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).isEqualTo("Formatting '" + file("a.raw") + "', fmt=raw size=4194304\n");
        assertThat(Files.size(dir.resolve("a.raw"))).isEqualTo(4 << 20);

        Cli.Run prealloc = Cli.run("img", "create", "-o", "preallocation=off,size=1.5k", file("b.raw"));
        assertThat(prealloc.out()).isEqualTo("Formatting '" + file("b.raw") + "', fmt=raw size=1536 preallocation=off\n");
        assertThat(Cli.run("img", "create", "-q", file("c.raw"), "1k").out()).isEmpty();
    }

    @Test
    void createRefusesToOverwriteAndNamesTheFile() throws IOException {
        Cli.run("img", "create", file("a.raw"), "1M");
        Cli.Run again = Cli.run("img", "create", file("a.raw"), "2M");
        assertThat(again.exitCode()).isEqualTo(1);
        assertThat(again.err()).startsWith("vmsnap: " + file("a.raw") + ": file exists").endsWith("\n");
        assertThat(again.err().lines()).hasSize(1);
        assertThat(Files.size(dir.resolve("a.raw"))).isEqualTo(1 << 20);
    }

    @Test
    void createRejectsBadSizesAndOptionsBeforeFormatting() {
        assertError(Cli.run("img", "create", file("x.raw"), "0.5"), 1, "Invalid image size specified. You may use k, M, G");
        assertError(Cli.run("img", "create", file("x.raw"), "8E"), 1, "Must be between 0 and 9223372036854775807.");
        assertError(Cli.run("img", "create", "-o", "size=1M", file("x.raw"), "1M"), 1, "The image size must be specified only once");
        assertError(Cli.run("img", "create", "-o", "cluster_size=4k", file("x.raw"), "1M"), 1, "Invalid parameter 'cluster_size'");
        assertError(Cli.run("img", "create", "-b", "base", "-F", "raw", file("x.raw"), "1M"), 1,
                "Backing file not supported for file format 'raw'");
        assertError(Cli.run("img", "create", file("x.raw")), 1, "Image creation needs a size parameter");
        assertError(Cli.run("img", "create", "-f", "vmdk", file("x.raw"), "1M"), 1, "Unknown file format 'vmdk'");
        assertError(Cli.run("img", "create", "-o", ",", file("x.raw"), "1M"), 1, "Invalid option list: ,");
        assertThat(Files.exists(dir.resolve("x.raw"))).isFalse();
    }

    @Test
    void createRawRefusesPreallocationBeforeFormatting() {
        Cli.Run r = Cli.run("img", "create", "-o", "preallocation=metadata", file("x.raw"), "1M");
        assertThat(r.out()).as("nothing announced before a refusal").isEmpty();
        assertError(r, 1, "Unsupported preallocation mode: metadata");
        assertThat(Files.exists(dir.resolve("x.raw"))).isFalse();
    }

    @Test
    void createOptionHelpListsTheOptions() {
        Cli.Run r = Cli.run("img", "create", "-f", "qcow2", "-o", "help");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).startsWith("Supported qcow2 options:\n").contains("  cluster_size=<size>").contains("  size=<size>");
    }

    @Test
    void infoShowsARawImage() throws IOException {
        String f = rawWith("i.raw", 4 << 20, (byte) 1, 0);
        Cli.Run human = Cli.run("img", "info", f);
        assertThat(human.exitCode()).isZero();
        assertThat(human.out()).startsWith("image: " + f + "\nfile format: raw\nvirtual size: 4 MiB (4194304 bytes)\ndisk size: ");
        assertThat(human.out().lines()).hasSize(4);

        Cli.Run json = Cli.run("img", "info", "--output=json", f);
        assertThat(json.out()).startsWith("{\n    \"virtual-size\": 4194304,\n    \"filename\": \"" + f + "\",\n"
                + "    \"format\": \"raw\",\n    \"actual-size\": ").endsWith(",\n    \"dirty-flag\": false\n}\n");
        Cli.Run chain = Cli.run("img", "info", "--output", "json", "--backing-chain", f);
        assertThat(chain.out()).startsWith("[\n    {\n        \"virtual-size\": 4194304,").endsWith("    }\n]\n");
    }

    @Test
    void infoWithAnUnknownOutputIsRefused() throws IOException {
        String f = rawWith("i.raw", 512, (byte) 0);
        assertError(Cli.run("img", "info", "--output=xml", f), 1, "--output must be used with human or json as argument.");
    }

    @Test
    void checkOfRawIsNotSupported() throws IOException {
        String f = rawWith("c.raw", 1 << 20, (byte) 0);
        Cli.Run r = Cli.run("img", "check", f);
        assertThat(r.out()).isEmpty();
        assertError(r, 63, "This image format does not support checks");
        assertError(Cli.run("img", "check", "-r", "some", f), 1, "Unknown option value for -r (expecting 'leaks' or 'all'): some");
    }

    @Test
    void mapListsTheRawFile() throws IOException {
        String f = rawWith("m.raw", 1 << 20, (byte) 1, 0);
        Cli.Run human = Cli.run("img", "map", f);
        assertThat(human.out()).startsWith("Offset          Length          Mapped to       File\n0               ")
                .endsWith(f + "\n");
        Cli.Run json = Cli.run("img", "map", "--output=json", f);
        assertThat(json.out()).startsWith("[{ \"start\": 0, \"length\": ").endsWith("}]\n");
        assertThat(json.out()).contains("\"depth\": 0, \"present\": true");
    }

    @Test
    void mapOfAnEmptyFilePrintsQemusEmptyEntry() throws IOException {
        Files.createFile(dir.resolve("e.raw"));
        assertThat(Cli.run("img", "map", "--output=json", file("e.raw")).out()).isEqualTo(
                "[{ \"start\": 0, \"length\": 0, \"depth\": 0, \"present\": false, \"zero\": false, \"data\": false}]\n");
        assertThat(Cli.run("img", "map", file("e.raw")).out()).isEqualTo("Offset          Length          Mapped to       File\n");
    }

    @Test
    void compareReportsIdenticalMismatchAndSizes() throws IOException {
        String a = rawWith("a.raw", 4 << 20, (byte) 0);
        String b = rawWith("b.raw", 4 << 20, (byte) 1, 1000);
        String c = rawWith("c.raw", 8 << 20, (byte) 1, 6292000);
        String d = rawWith("d.raw", 8 << 20, (byte) 0);
        assertRun(Cli.run("img", "compare", a, a), 0, "Images are identical.\n");
        assertRun(Cli.run("img", "compare", a, b), 1, "Content mismatch at offset 512!\n");
        assertRun(Cli.run("img", "compare", "-f", "raw", "-F", "raw", a, c), 1,
                "Warning: Image size mismatch!\nContent mismatch at offset 6291968!\n");
        assertRun(Cli.run("img", "compare", d, a), 0, "Warning: Image size mismatch!\nImages are identical.\n");
        assertRun(Cli.run("img", "compare", "-s", a, d), 1, "Strict mode: Image size mismatch!\n");
        assertRun(Cli.run("img", "compare", "-q", a, b), 1, "");
        Cli.Run missing = Cli.run("img", "compare", a, file("nope.raw"));
        assertError(missing, 2, "Could not open '" + file("nope.raw") + "': No such file or directory");
    }

    @Test
    void convertCopiesARawImageAndCompareAgrees() throws IOException {
        String src = rawWith("src.raw", 3 << 20, (byte) 0x5a, 0, 70000, (2 << 20) + 5);
        Cli.Run r = Cli.run("img", "convert", "-O", "raw", src, file("out.raw"));
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).isEmpty();
        assertThat(Files.readAllBytes(dir.resolve("out.raw"))).isEqualTo(Files.readAllBytes(Path.of(src)));
        assertRun(Cli.run("img", "compare", src, file("out.raw")), 0, "Images are identical.\n");
    }

    @Test
    void convertTakesQemuImgsCoroutinesAndOutOfOrderOptions() throws IOException {
        String src = rawWith("m.raw", 5 << 20, (byte) 0x3c, 0, 70000, (3 << 20) + 4096);
        for (String[] opts : new String[][] {{"-m", "1"}, {"-m", "16", "-W"}, {"-W"}}) {
            String out = file("m" + opts.length + opts[opts.length - 1].replace("-", "") + ".raw");
            java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of("img", "convert"));
            args.addAll(java.util.List.of(opts));
            args.addAll(java.util.List.of("-O", "raw", src, out));
            assertThat(Cli.run(args.toArray(String[]::new)).exitCode()).as(String.join(" ", opts)).isZero();
            assertThat(Files.readAllBytes(Path.of(out))).isEqualTo(Files.readAllBytes(Path.of(src)));
        }
        for (String bad : new String[] {"0", "17", "x"}) {
            assertError(Cli.run("img", "convert", "-m", bad, "-O", "raw", src, file("bad.raw")), 1,
                    "Invalid number of coroutines. Allowed number of coroutines is between 1 and 16");
        }
        assertThat(Files.exists(dir.resolve("bad.raw"))).isFalse();
    }

    @Test
    void convertOfAnOddSizedFileRoundsUpToASector() throws IOException {
        Path src = dir.resolve("odd.raw");
        Files.write(src, new byte[] {1, 2, 3});
        assertThat(Cli.run("img", "convert", "-f", "raw", src.toString(), file("o.raw")).exitCode()).isZero();
        assertThat(Files.size(dir.resolve("o.raw"))).isEqualTo(512);
    }

    @Test
    void convertDrawsProgressIntoAnyOutputUnlessQuiet() throws IOException {
        String src = rawWith("p.raw", 3 << 20, (byte) 1, 0);
        Cli.Run shown = Cli.run("img", "convert", "-p", "-O", "raw", src, file("p1.raw"));
        assertThat(shown.out()).startsWith("    (0.00/100%)\r").endsWith("    (100.00/100%)\r\n");
        Cli.Run quiet = Cli.run("img", "convert", "-q", "-p", "-O", "raw", src, file("p2.raw"));
        assertThat(quiet.out()).isEmpty();
    }

    @Test
    void convertRefusesWhatRawCannotHold() throws IOException {
        String src = rawWith("s.raw", 1 << 20, (byte) 0);
        assertError(Cli.run("img", "convert", "-c", "-O", "raw", src, file("o.raw")), 1,
                "Compression not supported for this file format");
        assertError(Cli.run("img", "convert", "-B", "base.qcow2", "-F", "qcow2", src, file("o.raw")), 1,
                "Backing file not supported for file format 'raw'");
        assertError(Cli.run("img", "convert", "-O", "qcow2", "-B", "base.qcow2", src, file("o.qcow2")), 1,
                "Use of backing file requires explicit backing format");
        assertThat(Files.exists(dir.resolve("o.raw"))).isFalse();
    }

    @Test
    void resizeGrowsAndShrinksOnlyWhenAsked() throws IOException {
        String f = file("r.raw");
        Cli.run("img", "create", "-q", f, "4M");
        Cli.Run grow = Cli.run("img", "resize", "-f", "raw", f, "+1M");
        assertRun(grow, 0, "Image resized.\n");
        assertThat(Files.size(Path.of(f))).isEqualTo(5 << 20);

        assertError(Cli.run("img", "resize", "-f", "raw", f, "-1M"), 1, "Use the --shrink option to perform a shrink operation.");
        assertRun(Cli.run("img", "resize", "-f", "raw", "--shrink", f, "-1M"), 0, "Image resized.\n");
        assertThat(Files.size(Path.of(f))).isEqualTo(4 << 20);
        assertRun(Cli.run("img", "resize", "-f", "raw", f, "+1000"), 0, "Image resized.\n");
        assertThat(Files.size(Path.of(f))).isEqualTo((4 << 20) + 1000);
        assertError(Cli.run("img", "resize", "-f", "raw", "--shrink", f, "-100M"), 1, "New image size must be positive");
        assertError(Cli.run("img", "resize", "-f", "raw", f, "abc"), 1, "Parameter 'size' expects a non-negative number below 2^64");
    }

    @Test
    void resizeWarnsWhenRawWasProbed() {
        String f = file("w.raw");
        Cli.run("img", "create", "-q", f, "1M");
        Cli.Run r = Cli.run("img", "resize", f, "2M");
        assertThat(r.exitCode()).isZero();
        assertThat(r.err()).startsWith("WARNING: Image format was not specified for '" + f + "' and probing guessed raw.\n");
        assertThat(r.err().lines()).hasSize(3);
    }

    static void assertRun(Cli.Run r, int code, String out) {
        assertThat(r.out()).isEqualTo(out);
        assertThat(r.exitCode()).as("exit code; stderr: %s", r.err()).isEqualTo(code);
    }

    /** One line on stderr, "vmsnap: ...", containing the text; the given exit code. */
    static void assertError(Cli.Run r, int code, String text) {
        assertThat(r.exitCode()).as("exit code; stderr: %s", r.err()).isEqualTo(code);
        assertThat(r.err()).startsWith("vmsnap: ").contains(text).endsWith("\n");
        assertThat(r.err().lines()).hasSize(1);
    }
}
