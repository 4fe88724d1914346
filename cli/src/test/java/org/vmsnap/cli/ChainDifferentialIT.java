package org.vmsnap.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.vmsnap.cli.Differential.assertSame;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Backing chains built by qemu-img and qemu-io: vmsnap's commit, rebase and convert give
 * images that qemu-img finds equal to what qemu-img's own commands give, and that check
 * clean; map, info --backing-chain and compare print what qemu-img prints.
 */
class ChainDifferentialIT {

    @TempDir
    Path dir;

    /** Chain A: qcow2 throughout, in a sub-folder, relative names, a compressed and zero clusters. */
    private Path chainA(Path root) throws IOException {
        Path sub = Files.createDirectories(root.resolve("sub"));
        QemuImg.ok("create", "-q", "-f", "qcow2", sub.resolve("base.qcow2").toString(), "4M");
        QemuImg.io(sub.resolve("base.qcow2"), "qcow2", "write -P 0xaa 0 1M", "write -c -P 0x22 2M 64k",
                "write -P 0x11 3M 64k");
        QemuImg.ok("create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", sub.resolve("mid.qcow2").toString());
        QemuImg.io(sub.resolve("mid.qcow2"), "qcow2", "write -P 0xbb 512k 1M", "write -z 2M 64k", "write -z 3M 64k");
        QemuImg.ok("create", "-q", "-f", "qcow2", "-b", "mid.qcow2", "-F", "qcow2", sub.resolve("top.qcow2").toString());
        QemuImg.io(sub.resolve("top.qcow2"), "qcow2", "write -P 0xcc 100k 10k", "write -z 512k 64k",
                "write -P 0xdd 3M 4k", "write -P 0xee 3968k 128k");
        return sub.resolve("top.qcow2");
    }

    /**
     * Chain B: a raw file at the bottom, a 512-byte-cluster middle shorter than the top, a
     * compat=0.10 top with 4 KiB clusters.
     */
    private Path chainB(Path root) throws IOException {
        QemuImg.ok("create", "-q", "-f", "raw", root.resolve("base.raw").toString(), "3M");
        QemuImg.io(root.resolve("base.raw"), "raw", "write -P 0x31 0 1M", "write -P 0x32 2M 4k");
        QemuImg.ok("create", "-q", "-f", "qcow2", "-o", "cluster_size=512", "-b", "base.raw", "-F", "raw",
                root.resolve("mid.qcow2").toString(), "2M");
        QemuImg.io(root.resolve("mid.qcow2"), "qcow2", "write -P 0x41 1000k 100k", "write -z 4k 8k");
        QemuImg.ok("create", "-q", "-f", "qcow2", "-o", "cluster_size=4k,compat=0.10", "-b", "mid.qcow2", "-F", "qcow2",
                root.resolve("top.qcow2").toString(), "5M");
        QemuImg.io(root.resolve("top.qcow2"), "qcow2", "write -P 0x51 0 4k", "write -P 0x52 1990k 20k",
                "write -P 0x53 4M 4k", "write -z 8k 4k");
        return root.resolve("top.qcow2");
    }

    private interface Fixture {
        Path build(Path root) throws IOException;
    }

    /** Two copies of the same chain, one for each tool; returns the two top images. */
    private Path[] twins(String name, Fixture fixture) throws IOException {
        Path q = fixture.build(Files.createDirectories(dir.resolve(name + "-qemu")));
        Path v = fixture.build(Files.createDirectories(dir.resolve(name + "-vmsnap")));
        return new Path[] {q, v};
    }

    /** Every image file under a folder, by name relative to it. */
    private static Map<String, Path> images(Path root) throws IOException {
        Map<String, Path> all = new TreeMap<>();
        try (Stream<Path> files = Files.walk(root)) {
            for (Path p : files.filter(Files::isRegularFile).toList()) {
                all.put(root.relativize(p).toString(), p);
            }
        }
        return all;
    }

    private static String format(Path p) {
        return p.toString().endsWith(".raw") ? "raw" : "qcow2";
    }

    /**
     * Each file of vmsnap's tree reads like the same file of qemu's (through its own chain),
     * checks clean, and (qcow2) has the same map apart from host offsets.
     */
    private static void assertSameImages(String what, Path qemuRoot, Path ourRoot, boolean exactMap)
            throws IOException {
        Map<String, Path> ours = images(ourRoot);
        Map<String, Path> theirs = images(qemuRoot);
        assertThat(ours.keySet()).as(what).isEqualTo(theirs.keySet());
        for (String name : ours.keySet()) {
            Path q = theirs.get(name);
            Path v = ours.get(name);
            String fmt = format(v);
            Cli.Run compare = QemuImg.run("compare", "-f", fmt, "-F", fmt, q.toString(), v.toString());
            assertThat(compare.out()).as("%s: %s", what, name).isEqualTo("Images are identical.\n");
            if (fmt.equals("qcow2")) {
                Cli.Run check = QemuImg.run("check", v.toString());
                assertThat(check.exitCode()).as("%s: check %s: %s%s", what, name, check.out(), check.err()).isZero();
            }
            if (fmt.equals("raw")) {
                continue; // a raw file's map is the file system's extents: they follow the write sizes
            }
            String mapV = QemuImg.ok("map", "--output=json", "-f", fmt, v.toString());
            String mapQ = QemuImg.ok("map", "--output=json", "-f", fmt, q.toString());
            if (exactMap) {
                assertThat(runs(mapV, true)).as("%s: map of %s", what, name).isEqualTo(runs(mapQ, true));
            } else {
                // qemu-img rebase writes copied zeros as data, vmsnap as zero clusters; a raw
                // file's extents follow the write sizes: the same ranges are allocated in the
                // same layers, and vmsnap stores no more data.
                assertThat(runs(mapV, false)).as("%s: allocation of %s", what, name).isEqualTo(runs(mapQ, false));
                assertThat(dataBytes(mapV)).as("%s: data bytes of %s", what, name).isLessThanOrEqualTo(dataBytes(mapQ));
            }
        }
    }

    /**
     * A map as runs of equal status, host offsets left out and neighbours merged: two
     * writers place clusters differently in their files, which splits qemu-img's entries
     * differently, but the guest ranges and their status must be the same.
     */
    static List<String> runs(String mapJson, boolean withContent) throws IOException {
        List<String> runs = new ArrayList<>();
        long start = -1;
        long end = -1;
        String key = null;
        for (JsonNode e : JSON.readTree(mapJson)) {
            String k = "depth " + e.get("depth") + " present " + e.get("present")
                    + (withContent ? " zero " + e.get("zero") + " data " + e.get("data") : "");
            long s = e.get("start").asLong();
            if (k.equals(key) && s == end) {
                end = s + e.get("length").asLong();
                continue;
            }
            if (key != null) {
                runs.add(start + "+" + (end - start) + " " + key);
            }
            key = k;
            start = s;
            end = s + e.get("length").asLong();
        }
        if (key != null) {
            runs.add(start + "+" + (end - start) + " " + key);
        }
        return runs;
    }

    /** Bytes the top image itself holds as data (depth 0). */
    static long dataBytes(String mapJson) throws IOException {
        long n = 0;
        for (JsonNode e : JSON.readTree(mapJson)) {
            if (e.get("depth").asInt() == 0 && e.get("data").asBoolean()) {
                n += e.get("length").asLong();
            }
        }
        return n;
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    /** The same command through both tools on twin chains, then the same files. */
    private void sameOutcome(String name, Fixture fixture, String... args) throws IOException {
        sameOutcome(name, fixture, true, args);
    }

    private void sameOutcome(String name, Fixture fixture, boolean exactMap, String... args) throws IOException {
        Path[] tops = twins(name, fixture);
        String what = name + " " + String.join(" ", args);
        Cli.Run qemu = QemuImg.run(withImage(args, tops[0]));
        Cli.Run ours = Cli.run(Differential.prepend("img", withImage(args, tops[1])));
        assertThat(ours.exitCode()).as("%s: vmsnap %s / qemu %s", what, ours.err(), qemu.err()).isEqualTo(qemu.exitCode());
        assertThat(ours.out()).as(what).isEqualTo(qemu.out());
        assertSameImages(what, dir.resolve(name + "-qemu"), dir.resolve(name + "-vmsnap"), exactMap);
        String infoQ = QemuImg.ok("info", "--backing-chain", "--output=json", tops[0].toString());
        String infoV = QemuImg.ok("info", "--backing-chain", "--output=json", tops[1].toString());
        assertThat(normalize(infoV, tops[1], tops[0])).as(what + ": info --backing-chain").isEqualTo(normalize(infoQ,
                tops[0], tops[0]));
    }

    /** The folder names differ and actual sizes depend on the writer; the rest must not. */
    private String normalize(String info, Path top, Path reference) {
        return info.replace(top.getParent().toString(), reference.getParent().toString())
                .replaceAll("\"actual-size\": \\d+", "\"actual-size\": 0");
    }

    private static String[] withImage(String[] args, Path image) {
        List<String> all = new ArrayList<>(List.of(args));
        all.add(image.toString());
        return all.toArray(String[]::new);
    }

    @Test
    void commitLikeQemu() throws IOException {
        sameOutcome("a", this::chainA, "commit");
        sameOutcome("a-d", this::chainA, "commit", "-d");
        sameOutcome("a-b", this::chainA, "commit", "-b", "base.qcow2");
        sameOutcome("a-bq", this::chainA, "commit", "-q", "-f", "qcow2", "-b", "mid.qcow2");
        sameOutcome("b", this::chainB, "commit");
        // Into a raw file: the raw file's extents follow the write sizes, and every map above it shows them.
        sameOutcome("b-b", this::chainB, false, "commit", "-b", "base.raw");
    }

    @Test
    void rebaseLikeQemu() throws IOException {
        sameOutcome("a", this::chainA, false, "rebase", "-b", "base.qcow2", "-F", "qcow2");
        sameOutcome("a-u", this::chainA, "rebase", "-u", "-b", "base.qcow2", "-F", "qcow2");
        sameOutcome("a-flat", this::chainA, false, "rebase", "-b", "");
        sameOutcome("a-uflat", this::chainA, "rebase", "-u", "-b", "");
        sameOutcome("b", this::chainB, false, "rebase", "-b", "base.raw", "-F", "raw");
        sameOutcome("b-flat", this::chainB, false, "rebase", "-f", "qcow2", "-b", "");
        // Onto a smaller backing file: what lay past its end is copied into the image.
        sameOutcome("small", root -> {
            Path top = chainA(root);
            QemuImg.ok("create", "-q", "-f", "qcow2", top.resolveSibling("small.qcow2").toString(), "1M");
            QemuImg.io(top.resolveSibling("small.qcow2"), "qcow2", "write -P 0xaa 0 1M");
            return top;
        }, false, "rebase", "-b", "small.qcow2", "-F", "qcow2");
    }

    @Test
    void convertOfChainsLikeQemu() throws IOException {
        Path out = Files.createDirectories(dir.resolve("out"));
        String[][] cases = {
            {"-O", "qcow2"},
            {"-O", "raw"},
            {"-O", "qcow2", "-B", "@/mid.qcow2", "-F", "qcow2"},
            {"-O", "qcow2", "-c"},
            {"-O", "qcow2", "-c", "-o", "compression_type=zstd"},
            {"-O", "qcow2", "-c", "-B", "@/mid.qcow2", "-F", "qcow2"},
        };
        // -B names the input's own backing file: qemu-img assumes it holds what the input's chain holds.
        for (Fixture chain : List.<Fixture>of(this::chainA, this::chainB)) {
            Path t = chain.build(Files.createTempDirectory(dir, "c"));
            for (int i = 0; i < cases.length; i++) {
                String[] c = cases[i].clone();
                for (int k = 0; k < c.length; k++) {
                    c[k] = c[k].replace("@", t.getParent().toString());
                }
                String ext = c[1].equals("raw") ? ".raw" : ".qcow2";
                Path q = out.resolve(t.getParent().getFileName() + "-q" + i + ext);
                Path v = out.resolve(t.getParent().getFileName() + "-v" + i + ext);
                QemuImg.ok(Differential.prepend("convert", withImage(withImage(c, t), q)));
                Cli.Run ours = Cli.run(Differential.prepend("img", Differential.prepend("convert",
                        withImage(withImage(c, t), v))));
                String what = List.of(c) + " of " + t;
                assertThat(ours.exitCode()).as(what + ": " + ours.err()).isZero();
                String fmt = ext.equals(".raw") ? "raw" : "qcow2";
                assertThat(QemuImg.run("compare", "-f", fmt, "-F", fmt, q.toString(), v.toString()).out()).as(what)
                        .isEqualTo("Images are identical.\n");
                assertThat(QemuImg.run("compare", "-F", fmt, t.toString(), v.toString()).out()).as(what)
                        .isEqualTo("Images are identical.\n");
                if (fmt.equals("qcow2")) {
                    assertThat(QemuImg.run("check", v.toString()).exitCode()).as(what).isZero();
                    assertThat(runs(QemuImg.ok("map", "--output=json", v.toString()), true)).as(what)
                            .isEqualTo(runs(QemuImg.ok("map", "--output=json", q.toString()), true));
                }
            }
        }
    }

    @Test
    void mapInfoAndCompareOnChainsLikeQemu() throws IOException {
        Path a = chainA(Files.createDirectories(dir.resolve("a")));
        Path b = chainB(Files.createDirectories(dir.resolve("b")));
        Path flatA = dir.resolve("a.raw");
        QemuImg.ok("convert", "-O", "raw", a.toString(), flatA.toString());
        for (Path top : List.of(a, a.resolveSibling("mid.qcow2"), b, b.resolveSibling("mid.qcow2"))) {
            assertSame("map", "--output=json", top.toString());
            assertSame("map", "--output=json", "--start-offset", "1M", "--max-length", "2M", top.toString());
            assertSame("info", "--backing-chain", "--output=json", top.toString());
            assertSame("info", "--backing-chain", top.toString());
            assertSame("compare", top.toString(), flatA.toString());
        }
        assertSame("map", b.toString());
        assertSame("compare", a.toString(), a.resolveSibling("mid.qcow2").toString());
        assertSame("compare", "-s", a.toString(), flatA.toString());
    }
}
