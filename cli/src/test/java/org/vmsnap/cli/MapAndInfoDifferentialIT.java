package org.vmsnap.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.vmsnap.cli.Differential.assertSame;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code vmsnap img map} and {@code vmsnap img info} print exactly what qemu-img 7.2 prints,
 * byte for byte, on QEMU-made images that {@link Qcow2DifferentialIT} does not cover: zero
 * clusters (allocated and not), discarded clusters, zlib and zstd compressed clusters,
 * 512-byte and 2 MiB clusters, chains with raw and qcow2 members (also an overlay larger
 * than its backing, and a v2 overlay where discard keeps the data), and QEMU-made internal
 * snapshots. Then {@code vmsnap img convert -c} against {@code qemu-img convert -c}.
 */
class MapAndInfoDifferentialIT {

    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    /** A source with data qemu can compress (patterns), holes, and a cluster of zeros written as data. */
    private Path source;

    private Path p(String name) {
        return dir.resolve(name);
    }

    @BeforeEach
    void source() {
        source = p("source.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", source.toString(), "6M");
        QemuImg.io(source, "qcow2", "write -P 0x11 0 200k", "write -P 0 256k 64k", "write -P 0x22 1M 64k",
                "write -P 0x33 1100k 3k", "write -P 0x44 3M 1M", "write -P 0x55 6080k 64k");
    }

    /** map --output=json, map (human), info, info --output=json of each image, like qemu-img. */
    private static void assertMapAndInfoSame(Path... images) {
        for (Path image : images) {
            assertSame("map", "--output=json", image.toString());
            assertSame("map", image.toString());
            assertSame("info", "--output=json", image.toString());
            assertSame("info", image.toString());
        }
    }

    @Test
    void zeroAndDiscardedClustersAt512BytesAnd2MiB() {
        Path small = p("c512.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", "-o", "cluster_size=512,refcount_bits=1", small.toString(), "3M");
        QemuImg.io(small, "qcow2", "write -P 0xab 0 300k", "write -z 10k 1536", "write -z -u 20k 20k",
                "discard 100k 50k", "discard 1537 1535", "write -P 0xcd 1M 513", "write -z 2M 512k",
                "write -c -P 0x61 2900k 512", "write -c -P 0x62 2901k 512");
        Path big = p("c2m.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", "-o", "cluster_size=2M,refcount_bits=64", big.toString(), "21M");
        QemuImg.io(big, "qcow2", "write -P 0xab 0 5M", "write -z 2M 2M", "write -z -u 4M 2M", "discard 0 1M",
                "write -P 0x12 12M 4k", "write -z 16M 2M", "write -P 0x13 20M 1M", "discard 20M 1M");
        Path v2 = p("v2-2m.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", "-o", "cluster_size=2M,compat=0.10", v2.toString(), "9M");
        QemuImg.io(v2, "qcow2", "write -P 0xab 0 5M", "write -z 2M 2M", "discard 4M 2M", "write -P 0x14 8M 512");
        assertMapAndInfoSame(small, big, v2);
    }

    @Test
    void zlibAndZstdCompressedClusters() {
        Path zlib = p("zlib.qcow2");
        QemuImg.ok("convert", "-c", "-O", "qcow2", source.toString(), zlib.toString());
        Path zstd = p("zstd.qcow2");
        QemuImg.ok("convert", "-c", "-O", "qcow2", "-o", "compression_type=zstd", source.toString(), zstd.toString());
        Path zstd4k = p("zstd-4k.qcow2");
        QemuImg.ok("convert", "-c", "-O", "qcow2", "-o", "compression_type=zstd,cluster_size=4k,refcount_bits=16",
                source.toString(), zstd4k.toString());
        Path zlibV2 = p("zlib-v2.qcow2");
        QemuImg.ok("convert", "-c", "-O", "qcow2", "-o", "compat=0.10,cluster_size=512", source.toString(),
                zlibV2.toString());
        // vmsnap reads the compressed data as qemu-img does (zstd through the cli's codec).
        for (Path image : List.of(zlib, zstd, zstd4k, zlibV2)) {
            assertSame("compare", image.toString(), source.toString());
        }
        for (Path image : List.of(zlib, zstd, zstd4k)) {
            // Partly overwrite, zero and discard compressed clusters, and add new compressed ones.
            QemuImg.io(image, "qcow2", "write -P 0x77 64k 100", "write -z 128k 64k", "discard 3M 64k",
                    "write -c -P 0x66 5M 64k");
        }
        assertMapAndInfoSame(zlib, zstd, zstd4k, zlibV2);
    }

    @Test
    void backingChainsWithRawAndQcow2Members() throws IOException {
        Path base = p("base.raw");
        QemuImg.ok("create", "-q", "-f", "raw", base.toString(), "4M");
        QemuImg.io(base, "raw", "write -P 0x01 0 1M", "write -P 0x02 2M 12k", "write -P 0x03 3M 1M");
        Files.createDirectories(p("layers"));
        Path mid = p("layers/mid.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", "-o", "cluster_size=4k", "-b", "../base.raw", "-F", "raw",
                mid.toString());
        QemuImg.io(mid, "qcow2", "write -P 0x21 512k 64k", "write -z 768k 64k", "discard 3M 128k",
                "write -c -P 0x22 3584k 4k");
        Path top = p("layers/top.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", "-b", "mid.qcow2", "-F", "qcow2", top.toString(), "6M");
        QemuImg.io(top, "qcow2", "write -P 0x31 0 64k", "write -z 2M 64k", "discard 3M 64k",
                "write -P 0x32 5M 64k", "write -z -u 4M 64k");
        Path v2 = p("layers/v2.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", "-o", "compat=0.10", "-b", "../base.raw", "-F", "raw",
                v2.toString());
        QemuImg.io(v2, "qcow2", "write -P 0x41 0 128k", "discard 0 128k", "discard 3M 1M", "write -z 2M 64k");
        Path overRaw = p("over-raw.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", "-o", "cluster_size=512", "-b", "base.raw", "-F", "raw",
                overRaw.toString());
        QemuImg.io(overRaw, "qcow2", "write -P 0x51 1000k 1k", "write -z 1M 512", "discard 2M 4k");
        assertMapAndInfoSame(top, mid, v2, overRaw);
        for (Path image : List.of(top, mid, v2, overRaw)) {
            assertSame("info", "--backing-chain", "--output=json", image.toString());
            assertSame("info", "--backing-chain", image.toString());
        }
        assertSame("map", "--output=json", "-f", "raw", base.toString());
        assertSame("info", "--output=json", base.toString());
    }

    @Test
    void imagesWithQemuMadeInternalSnapshots() {
        Path snap = p("snap.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", snap.toString(), "8M");
        QemuImg.io(snap, "qcow2", "write -P 0x01 0 1M", "write -z 2M 64k");
        QemuImg.ok("snapshot", "-c", "first", snap.toString());
        QemuImg.io(snap, "qcow2", "write -P 0x02 512k 64k", "discard 0 128k", "write -P 0x03 6M 64k");
        QemuImg.ok("snapshot", "-c", "second", snap.toString());
        QemuImg.io(snap, "qcow2", "write -z 6M 64k", "write -c -P 0x04 7M 64k");
        Path v2 = p("snap-v2.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", "-o", "compat=0.10,cluster_size=4k", v2.toString(), "2M");
        QemuImg.io(v2, "qcow2", "write -P 0x05 0 100k");
        QemuImg.ok("snapshot", "-c", "only", v2.toString());
        QemuImg.io(v2, "qcow2", "write -P 0x06 4k 4k", "discard 64k 32k");
        Path overlay = p("snap-overlay.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", "-b", "snap.qcow2", "-F", "qcow2", overlay.toString());
        QemuImg.io(overlay, "qcow2", "write -P 0x07 1M 64k");
        QemuImg.ok("snapshot", "-c", "top snapshot", overlay.toString());
        assertMapAndInfoSame(snap, v2, overlay);
        assertSame("info", "--backing-chain", "--output=json", overlay.toString());
        assertSame("info", "--backing-chain", overlay.toString());
    }

    @Test
    void convertCompressedIsIdenticalToTheSource() throws IOException {
        Path base = p("base.raw");
        QemuImg.ok("create", "-q", "-f", "raw", base.toString(), "6M");
        QemuImg.io(base, "raw", "write -P 0x09 2M 256k");
        Path overlay = p("overlay.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", "-b", "base.raw", "-F", "raw", overlay.toString());
        QemuImg.io(overlay, "qcow2", "write -P 0x0a 2100k 64k", "write -z 2200k 8k", "write -P 0x0b 5M 4k");
        Path random = Differential.denseRaw(p("random.raw"), 256 * 1024, 42);   // does not compress
        Files.createDirectories(p("q"));
        Files.createDirectories(p("v"));
        String[][] cases = {
            {"-O", "qcow2", source.toString()},
            {"-O", "qcow2", "-o", "compression_type=zstd", source.toString()},
            {"-O", "qcow2", "-o", "cluster_size=4k,compat=0.10", source.toString()},
            {"-O", "qcow2", "-o", "cluster_size=2M", source.toString()},
            {"-O", "qcow2", "-o", "cluster_size=512,refcount_bits=1", source.toString()},
            {"-O", "qcow2", overlay.toString()},
            {"-f", "raw", "-O", "qcow2", random.toString()},
        };
        int i = 0;
        for (String[] c : cases) {
            String name = "c" + i++ + ".qcow2";
            String what = "convert -c " + String.join(" ", c);
            String src = c[c.length - 1];
            List<String> args = new ArrayList<>(List.of("convert", "-c"));
            args.addAll(List.of(c));
            args.add(p("v/" + name).toString());
            Cli.Run ours = Cli.run(Differential.prepend("img", args.toArray(String[]::new)));
            assertThat(ours.exitCode()).as("vmsnap img %s: %s", what, ours.err()).isZero();
            args.set(args.size() - 1, p("q/" + name).toString());
            QemuImg.ok(args.toArray(String[]::new));

            Cli.Run check = QemuImg.run("check", "--output=json", p("v/" + name).toString());
            assertThat(check.exitCode()).as("qemu-img check of vmsnap's %s: %s %s", what, check.out(), check.err())
                    .isZero();
            Cli.Run compare = QemuImg.run("compare", src, p("v/" + name).toString());
            assertThat(compare.out()).as("qemu-img compare source and vmsnap's %s (%s)", what, compare.err())
                    .isEqualTo("Images are identical.\n");
            // Which clusters are compressed, zero or absent: as in qemu-img's own output.
            assertThat(withoutOffsets(QemuImg.ok("map", "--output=json", p("v/" + name).toString())))
                    .as("qemu-img map of vmsnap's %s vs of qemu-img's", what)
                    .isEqualTo(withoutOffsets(QemuImg.ok("map", "--output=json", p("q/" + name).toString())));
            assertThat(compressedClusters(check.out())).as("compressed clusters in vmsnap's %s vs qemu-img's", what)
                    .isEqualTo(compressedClusters(QemuImg.ok("check", "--output=json", p("q/" + name).toString())));
            String qInfo = QemuImg.ok("info", "--output=json", p("q/" + name).toString())
                    .replaceAll("\"actual-size\": \\d+", "");
            String vInfo = QemuImg.ok("info", "--output=json", p("v/" + name).toString())
                    .replaceAll("\"actual-size\": \\d+", "");
            assertThat(vInfo.replace(p("v/").toString(), p("q/").toString())).as("qemu-img info of %s", what)
                    .isEqualTo(qInfo);
        }
    }

    private static String withoutOffsets(String mapJson) {
        return mapJson.replaceAll(", \"offset\": \\d+", "");
    }

    private static long compressedClusters(String checkJson) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"compressed-clusters\": (\\d+)").matcher(checkJson);
        return m.find() ? Long.parseLong(m.group(1)) : 0;
    }
}
