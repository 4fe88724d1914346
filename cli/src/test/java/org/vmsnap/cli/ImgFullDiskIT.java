package org.vmsnap.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.testkit.SmallTmpfs;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * ENOSPC at every write of the {@code img} verbs that write: the images live on a small tmpfs
 * whose free space is swept from none up until the command succeeds. At each point where it
 * fails: exit code 1 and one error line naming a file it writes; the source images are
 * byte for byte unchanged; an image it changes is {@code qemu-img check}-clean and reads as
 * before or as after (qemu-img compare), with its size, backing file and snapshot names
 * either the old or the new ones; a file it was creating is gone and no other file appeared.
 * Then, with space back, the same command succeeds and its result reads as what qemu-img
 * makes of the same command.
 */
class ImgFullDiskIT {
    /** Free space grows by two tmpfs pages per try; {@code -Dvmsnap.fulldisk.step=4096} tries every page. */
    static final int STEP = Integer.getInteger("vmsnap.fulldisk.step", 8192);
    static final long MAX_FREE = 8 << 20;
    static final long MIB = 1 << 20;
    static final long KIB = 1 << 10;

    @TempDir
    static Path tmp;
    static SmallTmpfs disk;

    @BeforeAll
    static void mountTmpfs() throws Exception {
        disk = SmallTmpfs.mount(tmp.resolve("small"), "16m");
    }

    @AfterAll
    static void unmount() throws Exception {
        if (disk != null) {
            disk.close();
        }
    }

    interface Fixture {
        void make(Path dir);
    }

    /**
     * One command. {@code args} are qemu-img's (vmsnap's img verbs take the same); "@name" is
     * the file {@code name} in the folder the command runs on.
     *
     * @param changed files of the fixture the command may change
     * @param created the file the command makes, or null
     */
    record Case(String name, Fixture fixture, List<String> args, List<String> changed, String created) {
        List<String> resolved(Path dir) {
            return args.stream().map(a -> a.startsWith("@") ? dir.resolve(a.substring(1)).toString() : a).toList();
        }

        List<String> written(Path dir) {
            List<String> all = new ArrayList<>(changed);
            if (created != null) {
                all.add(created);
            }
            return all.stream().map(n -> dir.resolve(n).toString()).toList();
        }
    }

    // ---- fixtures (qemu-img and qemu-io make them: QEMU's own files) ---------------------

    /** 1 MiB with data in three places: 64 KiB at 0 and 256 KiB, 4 KiB at 700 KiB. */
    static void baseData(Path image, String format) {
        QemuImg.io(image, format, "write -P 0x11 0 64k", "write -P 0x22 256k 64k", "write -P 0x33 700k 4k");
    }

    static void base(Path dir) {
        QemuImg.ok("create", "-q", "-f", "qcow2", dir.resolve("base.qcow2").toString(), "1M");
        baseData(dir.resolve("base.qcow2"), "qcow2");
    }

    /** base.qcow2 and top.qcow2 over it, which overwrites part of it and adds data of its own. */
    static void chain(Path dir) {
        base(dir);
        Cli.Run r = QemuImg.runIn(dir, "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", "top.qcow2");
        assertThat(r.exitCode()).as("qemu-img create top.qcow2: %s", r.err()).isZero();
        QemuImg.io(dir.resolve("top.qcow2"), "qcow2", "write -P 0x44 32k 64k", "write -P 0x55 260k 4k",
                "write -P 0x66 900k 64k");
    }

    static void rawSource(Path dir) {
        QemuImg.ok("create", "-q", "-f", "raw", dir.resolve("src.raw").toString(), "1M");
        baseData(dir.resolve("src.raw"), "raw");
    }

    /** chain plus base2.qcow2, another base with other data (a safe rebase copies the difference). */
    static void twoBases(Path dir) {
        chain(dir);
        QemuImg.ok("create", "-q", "-f", "qcow2", dir.resolve("base2.qcow2").toString(), "1M");
        QemuImg.io(dir.resolve("base2.qcow2"), "qcow2", "write -P 0x77 128k 192k", "write -P 0x11 0 64k");
    }

    /** base.qcow2 with an internal snapshot s1 and data written after it. */
    static void withSnapshot(Path dir) {
        base(dir);
        QemuImg.ok("snapshot", "-c", "s1", dir.resolve("base.qcow2").toString());
        QemuImg.io(dir.resolve("base.qcow2"), "qcow2", "write -P 0x88 0 128k", "write -P 0x99 512k 64k");
    }

    /** 512-byte clusters, so a grow to 64 MiB needs a larger L1 table (moved) and refcount blocks. */
    static void smallClusters(Path dir) {
        QemuImg.ok("create", "-q", "-f", "qcow2", "-o", "cluster_size=512", dir.resolve("small.qcow2").toString(),
                "1M");
        baseData(dir.resolve("small.qcow2"), "qcow2");
    }

    static List<Case> cases() {
        return List.of(
                new Case("create qcow2", d -> { }, List.of("create", "-f", "qcow2", "@new.qcow2", "16M"),
                        List.of(), "new.qcow2"),
                new Case("create qcow2 with a backing file", ImgFullDiskIT::base,
                        List.of("create", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", "@new.qcow2"),
                        List.of(), "new.qcow2"),
                new Case("create qcow2 preallocation=metadata", d -> { },
                        List.of("create", "-f", "qcow2", "-o", "preallocation=metadata", "@new.qcow2", "8M"),
                        List.of(), "new.qcow2"),
                new Case("create raw", d -> { }, List.of("create", "-f", "raw", "@new.raw", "1M"), List.of(),
                        "new.raw"),
                new Case("convert raw to qcow2", ImgFullDiskIT::rawSource,
                        List.of("convert", "-f", "raw", "-O", "qcow2", "@src.raw", "@out.qcow2"), List.of(),
                        "out.qcow2"),
                new Case("convert qcow2 to compressed qcow2", ImgFullDiskIT::chain,
                        List.of("convert", "-c", "-f", "qcow2", "-O", "qcow2", "@top.qcow2", "@out.qcow2"),
                        List.of(), "out.qcow2"),
                new Case("convert qcow2 to raw", ImgFullDiskIT::chain,
                        List.of("convert", "-f", "qcow2", "-O", "raw", "@top.qcow2", "@out.raw"), List.of(),
                        "out.raw"),
                new Case("commit", ImgFullDiskIT::chain, List.of("commit", "-f", "qcow2", "@top.qcow2"),
                        List.of("base.qcow2", "top.qcow2"), null),
                new Case("rebase (safe)", ImgFullDiskIT::twoBases,
                        List.of("rebase", "-f", "qcow2", "-b", "base2.qcow2", "-F", "qcow2", "@top.qcow2"),
                        List.of("top.qcow2"), null),
                new Case("snapshot -c", ImgFullDiskIT::withSnapshot, List.of("snapshot", "-c", "s2", "@base.qcow2"),
                        List.of("base.qcow2"), null),
                new Case("snapshot -d", ImgFullDiskIT::withSnapshot, List.of("snapshot", "-d", "s1", "@base.qcow2"),
                        List.of("base.qcow2"), null),
                new Case("resize (grow, L1 table moves)", ImgFullDiskIT::smallClusters,
                        List.of("resize", "-f", "qcow2", "@small.qcow2", "512M"), List.of("small.qcow2"), null));
    }

    @TestFactory
    Stream<DynamicTest> everyWriteOfEveryImgVerbMeetsAFullDisk() {
        String only = System.getProperty("vmsnap.fulldisk.case", "");
        return cases().stream().filter(c -> c.name().contains(only))
                .map(c -> DynamicTest.dynamicTest(c.name(), () -> sweep(c)));
    }

    private static void sweep(Case c) throws Exception {
        String key = c.name().replaceAll("[^a-z0-9]+", "-");
        Path pristine = Files.createDirectories(tmp.resolve("pristine-" + key));
        c.fixture().make(pristine);
        // qemu-img's result of the same command, on a copy on an ordinary disk
        Path reference = Files.createDirectories(tmp.resolve("reference-" + key));
        copyFiles(pristine, reference);
        Cli.Run q = QemuImg.runIn(reference, c.resolved(reference).toArray(String[]::new));
        assertThat(q.exitCode()).as("qemu-img %s: %s", c.args(), q.err()).isZero();
        Map<String, String> sums = checksums(pristine);
        Path run = disk.root().resolve("run");
        List<String> failures = new ArrayList<>();
        long started = System.nanoTime();
        SmallTmpfs.Outcome o = disk.sweep(c.name(), STEP, MAX_FREE, () -> {
            SmallTmpfs.deleteTree(run);
            Files.createDirectories(run);
            copyFiles(pristine, run);
        }, free -> {
            String at = c.name() + " with " + free / KIB + " KiB free";
            Cli.Run r = vmsnap(c, run);
            if (r.exitCode() == 0) {
                disk.release();
                assertLike(c, run, reference, sums, at);
                return true;
            }
            failures.add(r.err().strip());
            assertThat(r.exitCode()).as("%s: exit code (%s)", at, r.err()).isEqualTo(1);
            assertThat(r.err().lines()).as("%s: one error line", at).hasSize(1);
            assertThat(c.written(run)).as("%s: the error line names a file it writes: %s", at, r.err())
                    .anyMatch(r.err()::contains);
            disk.release();
            assertSourcesUnchanged(c, run, sums, at);
            assertThat(names(run)).as("%s: no file left or made beside the old ones", at).isEqualTo(names(pristine));
            for (String name : c.changed()) {
                assertOldOrNew(run.resolve(name), pristine.resolve(name), reference.resolve(name), at);
            }
            Cli.Run again = vmsnap(c, run);
            assertThat(again.exitCode()).as("%s, space back: the same command succeeds: %s", at, again.err())
                    .isZero();
            assertLike(c, run, reference, sums, at + ", then again with space");
            return false;
        });
        System.out.printf("img %s: %d full-disk points (step %d KiB), succeeded with %d KiB free, %.1f s;"
                + " first error: %s%n", c.name(), o.failures(), STEP / KIB, o.freeAtSuccess() / KIB,
                (System.nanoTime() - started) / 1e9, failures.isEmpty() ? "-" : failures.getFirst());
    }

    private static Cli.Run vmsnap(Case c, Path dir) {
        List<String> args = new ArrayList<>(List.of("img"));
        args.addAll(c.resolved(dir));
        return Cli.run(args.toArray(String[]::new));
    }

    /** After a success: every written file reads as qemu-img's, check-clean, same size/backing/snapshots. */
    private static void assertLike(Case c, Path run, Path reference, Map<String, String> sums, String at)
            throws IOException {
        assertSourcesUnchanged(c, run, sums, at);
        assertThat(names(run)).as("%s: files", at).isEqualTo(names(reference));
        List<String> written = new ArrayList<>(c.changed());
        if (c.created() != null) {
            written.add(c.created());
        }
        for (String name : written) {
            Path mine = run.resolve(name);
            Path theirs = reference.resolve(name);
            String fmt = format(name);
            assertThat(org.vmsnap.testkit.QemuImg.compare(mine, fmt, theirs, fmt))
                    .as("%s: %s reads as qemu-img's", at, name).isZero();
            if (fmt.equals("qcow2")) {
                assertClean(mine, at);
                assertThat(fingerprint(mine)).as("%s: %s", at, name).isEqualTo(fingerprint(theirs));
            } else {
                assertThat(Files.size(mine)).as("%s: size of %s", at, name).isEqualTo(Files.size(theirs));
            }
        }
    }

    /** A changed image after a failure: clean, and reads and looks as before or as after. */
    private static void assertOldOrNew(Path image, Path old, Path fresh, String at) {
        assertClean(image, at);
        Map<String, Object> now = fingerprint(image);
        assertThat(now).as("%s: %s looks as before or after", at, image.getFileName())
                .isIn(fingerprint(old), fingerprint(fresh));
        boolean asOldOrNew = org.vmsnap.testkit.QemuImg.compare(image, old) == 0
                || org.vmsnap.testkit.QemuImg.compare(image, fresh) == 0;
        assertThat(asOldOrNew).as("%s: %s reads as before or after", at, image.getFileName()).isTrue();
    }

    private static void assertClean(Path image, String at) {
        org.vmsnap.testkit.QemuImg.CheckOutcome r = org.vmsnap.testkit.QemuImg.check(image);
        assertThat(r.exitCode()).as("%s: qemu-img check %s: %s %s", at, image.getFileName(), r.json(), r.stderr())
                .isZero();
    }

    /** What qemu-img info says of the image's shape: size, backing file, snapshot names, cluster size. */
    private static Map<String, Object> fingerprint(Path image) {
        JsonNode info = org.vmsnap.testkit.QemuImg.infoJson(image, "qcow2");
        Map<String, Object> f = new LinkedHashMap<>();
        f.put("virtual-size", info.path("virtual-size").asLong());
        f.put("cluster-size", info.path("cluster-size").asLong());
        f.put("backing-filename", info.path("backing-filename").asText(""));
        f.put("backing-filename-format", info.path("backing-filename-format").asText(""));
        List<String> snapshots = new ArrayList<>();
        info.path("snapshots").forEach(s -> snapshots.add(s.path("name").asText()));
        f.put("snapshots", snapshots);
        f.put("compression-type", info.path("format-specific").path("data").path("compression-type").asText(""));
        return f;
    }

    private static void assertSourcesUnchanged(Case c, Path run, Map<String, String> sums, String at)
            throws IOException {
        for (Map.Entry<String, String> e : sums.entrySet()) {
            if (!c.changed().contains(e.getKey())) {
                assertThat(sha256(run.resolve(e.getKey()))).as("%s: source %s unchanged", at, e.getKey())
                        .isEqualTo(e.getValue());
            }
        }
    }

    private static String format(String name) {
        return name.endsWith(".raw") ? "raw" : "qcow2";
    }

    private static Map<String, String> checksums(Path dir) throws IOException {
        Map<String, String> sums = new LinkedHashMap<>();
        for (String name : names(dir)) {
            sums.put(name, sha256(dir.resolve(name)));
        }
        return sums;
    }

    private static String sha256(Path file) throws IOException {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Set<String> names(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).collect(java.util.stream.Collectors.toCollection(TreeSet::new));
        }
    }

    private static void copyFiles(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.list(from)) {
            for (Path p : s.toList()) {
                Files.copy(p, to.resolve(p.getFileName()));
            }
        }
    }
}
