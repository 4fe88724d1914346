package org.vmsnap.testkit;

import static java.util.Map.entry;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The hostile images are really broken: QEMU is asked about each one, and the test pins
 * what QEMU 7.2 does with it, so a case that silently became valid (or a QEMU that changed)
 * shows up.
 */
class BadImagesTest {

    /** How QEMU reacts, tried in this order: open (info --backing-chain), check, read everything (convert). */
    enum QemuVerdict {
        /** {@code qemu-img info} refuses to open it. */
        OPEN_FAILS,
        /** It opens; {@code qemu-img check} reports corruption (exit 2). */
        CHECK_FINDS_CORRUPTION,
        /** Open and check pass; reading the data ({@code qemu-img convert}) fails. */
        READ_FAILS,
        /** QEMU notices nothing: the engine must do better than QEMU here. */
        NOT_DETECTED
    }

    /**
     * QEMU 7.2's verdict for every case. Not detected by QEMU:
     * <ul>
     *   <li>truncated-in-data: check only compares refcounts with references, and reads past
     *       the end of the file return zeros, so a cut-off data cluster reads as zeros;</li>
     *   <li>backing-name-json: QEMU follows {@code json:} names and opens whatever file they
     *       name, which is why vmsnap refuses them.</li>
     * </ul>
     * Never run {@code qemu-img check} on the backing-cycle case: QEMU 7.2's check recurses
     * through the cycle, eating gigabytes of memory; {@code info --backing-chain} reports
     * "creates an infinite loop", so the verdict stops there.
     */
    private static final Map<String, QemuVerdict> QEMU_VERDICTS = Map.ofEntries(
            entry("bad-magic", QemuVerdict.OPEN_FAILS),
            entry("version-1", QemuVerdict.OPEN_FAILS),
            entry("version-4", QemuVerdict.OPEN_FAILS),
            entry("header-truncated", QemuVerdict.OPEN_FAILS),
            entry("cluster-bits-8", QemuVerdict.OPEN_FAILS),
            entry("cluster-bits-22", QemuVerdict.OPEN_FAILS),
            entry("header-length-too-small", QemuVerdict.OPEN_FAILS),
            entry("header-length-unaligned", QemuVerdict.OPEN_FAILS),
            entry("header-length-past-cluster", QemuVerdict.OPEN_FAILS),
            entry("unknown-incompatible-feature", QemuVerdict.OPEN_FAILS),
            entry("refcount-order-7", QemuVerdict.OPEN_FAILS),
            entry("header-extension-past-cluster", QemuVerdict.OPEN_FAILS),
            entry("header-extension-huge", QemuVerdict.OPEN_FAILS),
            entry("l1-size-too-large", QemuVerdict.OPEN_FAILS),
            entry("l1-size-too-small", QemuVerdict.OPEN_FAILS),
            entry("l1-offset-past-eof", QemuVerdict.CHECK_FINDS_CORRUPTION),
            entry("l1-offset-misaligned", QemuVerdict.OPEN_FAILS),
            entry("refcount-table-past-eof", QemuVerdict.CHECK_FINDS_CORRUPTION),
            entry("refcount-table-misaligned", QemuVerdict.OPEN_FAILS),
            entry("refcount-table-too-large", QemuVerdict.OPEN_FAILS),
            entry("l1-entry-reserved-low-bit", QemuVerdict.CHECK_FINDS_CORRUPTION),
            entry("l1-entry-reserved-high-bit", QemuVerdict.CHECK_FINDS_CORRUPTION),
            entry("l2-entry-reserved-low-bit", QemuVerdict.CHECK_FINDS_CORRUPTION),
            entry("l2-entry-reserved-high-bit", QemuVerdict.CHECK_FINDS_CORRUPTION),
            entry("l2-table-at-l1-table", QemuVerdict.CHECK_FINDS_CORRUPTION),
            entry("l2-table-at-refcount-table", QemuVerdict.CHECK_FINDS_CORRUPTION),
            entry("l2-table-at-refcount-block", QemuVerdict.CHECK_FINDS_CORRUPTION),
            entry("data-cluster-at-l1-table", QemuVerdict.CHECK_FINDS_CORRUPTION),
            entry("data-cluster-at-l2-table", QemuVerdict.CHECK_FINDS_CORRUPTION),
            entry("refcount-zero-for-used-cluster", QemuVerdict.CHECK_FINDS_CORRUPTION),
            entry("truncated-in-l2-table", QemuVerdict.CHECK_FINDS_CORRUPTION),
            entry("truncated-in-data", QemuVerdict.NOT_DETECTED),
            entry("compressed-garbage", QemuVerdict.READ_FAILS),
            entry("compressed-past-eof", QemuVerdict.CHECK_FINDS_CORRUPTION),
            entry("snapshot-table-past-eof", QemuVerdict.CHECK_FINDS_CORRUPTION),
            entry("snapshot-table-misaligned", QemuVerdict.OPEN_FAILS),
            entry("snapshot-count-too-large", QemuVerdict.OPEN_FAILS),
            entry("backing-name-too-long", QemuVerdict.OPEN_FAILS),
            entry("backing-name-nbd", QemuVerdict.OPEN_FAILS),
            entry("backing-name-http", QemuVerdict.OPEN_FAILS),
            entry("backing-name-json", QemuVerdict.NOT_DETECTED),
            entry("backing-cycle", QemuVerdict.OPEN_FAILS));

    /** Cases that are not "one field of at most 8 bytes changed"; each has its own test below. */
    private static final List<String> NOT_SINGLE_FIELD = List.of(
            "header-truncated", "truncated-in-l2-table", "truncated-in-data", "compressed-garbage",
            "backing-name-too-long", "backing-name-nbd", "backing-name-http", "backing-name-json",
            "backing-cycle");

    @TempDir
    static Path dir;

    static List<BadImage> cases;

    @BeforeAll
    static void generate() throws IOException {
        cases = BadImages.generate(dir);
    }

    static Stream<BadImage> cases() {
        return cases.stream();
    }

    @Test
    void everyCaseHasAUniqueNameAHintAndAVerdict() {
        assertThat(cases).hasSizeGreaterThanOrEqualTo(40);
        assertThat(new HashSet<>(cases.stream().map(BadImage::name).toList())).hasSameSizeAs(cases);
        assertThat(cases).allSatisfy(c -> {
            assertThat(c.expectedMessagePart()).isNotBlank().isEqualTo(c.expectedMessagePart().toLowerCase());
            assertThat(c.file()).exists();
        });
        assertThat(cases.stream().map(BadImage::name)).containsExactlyInAnyOrderElementsOf(QEMU_VERDICTS.keySet());
    }

    @Test
    void theValidImagesAreValidAndHoldWhatTheJavadocSays() {
        Path valid = dir.resolve(BadImages.VALID);
        assertThat(QemuImg.check(valid).clean()).isTrue();
        assertThat(QemuImg.checkJson(valid).get("compressed-clusters").asInt()).isEqualTo(1);
        QemuIo.run(valid, "qcow2",
                "read -P 0x11 0 65536",
                "read -P 0x22 1048576 131072",
                "read -P 0 2097152 65536",
                "read -P 0x33 7340032 65536");
        assertThat(QemuImg.mapJson(valid).findValuesAsText("zero")).contains("true");

        Path overlay = dir.resolve(BadImages.VALID_OVERLAY);
        assertThat(QemuImg.check(overlay).clean()).isTrue();
        QemuIo.run(overlay, "qcow2", "read -P 0x44 0 65536", "read -P 0x55 65536 65536", "read -P 0x44 131072 131072");

        Path snapshot = dir.resolve(BadImages.VALID_WITH_SNAPSHOT);
        assertThat(QemuImg.check(snapshot).clean()).isTrue();
        assertThat(QemuImg.snapshotList(snapshot)).hasSize(1);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void qemuJudgesTheCaseAsRecorded(BadImage bad) {
        assertThat(qemuVerdict(bad)).as("QEMU's verdict on %s", bad.name()).isEqualTo(QEMU_VERDICTS.get(bad.name()));
    }

    static Stream<BadImage> singleFieldCases() {
        return cases.stream().filter(c -> !NOT_SINGLE_FIELD.contains(c.name()));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("singleFieldCases")
    void singleFieldCasesDifferFromTheirSourceInOneField(BadImage bad) throws IOException {
        byte[] source = Files.readAllBytes(sourceOf(bad));
        byte[] broken = Files.readAllBytes(bad.file());
        assertThat(broken).hasSameSizeAs(source);
        List<Integer> differing = differingOffsets(source, broken);
        assertThat(differing).isNotEmpty();
        // One field: all changed bytes inside one aligned 8-byte word (fields never straddle one).
        assertThat(differing.stream().map(o -> o / 8).distinct()).hasSize(1);
    }

    @Test
    void truncatedCasesArePrefixesOfTheValidImage() throws IOException {
        byte[] source = Files.readAllBytes(dir.resolve(BadImages.VALID));
        for (String name : List.of("header-truncated", "truncated-in-l2-table", "truncated-in-data")) {
            byte[] broken = Files.readAllBytes(BadImages.byName(cases, name).file());
            assertThat(broken.length).as(name).isLessThan(source.length);
            assertThat(Arrays.mismatch(broken, 0, broken.length, source, 0, broken.length)).as(name).isEqualTo(-1);
        }
    }

    @Test
    void backingNameCasesCarryTheHostileName() {
        assertThat(backingName("backing-name-too-long")).hasSize(1100);
        assertThat(backingName("backing-name-nbd")).startsWith("nbd:");
        assertThat(backingName("backing-name-http")).startsWith("http://");
        assertThat(backingName("backing-name-json")).startsWith("json:{");
        // QEMU follows the json: name and reads the file it names.
        BadImage json = BadImages.byName(cases, "backing-name-json");
        QemuIo.run(json.file(), "qcow2", "read -P 0x44 0 65536", "read -P 0x55 65536 65536");
    }

    @Test
    void compressedGarbageOnlyBreaksTheCompressedCluster() {
        BadImage bad = BadImages.byName(cases, "compressed-garbage");
        assertThat(QemuImg.check(bad.file()).clean()).isTrue();
        QemuIo.run(bad.file(), "qcow2", "read -P 0x22 1048576 131072", "read -P 0x33 7340032 65536");
        QemuTools.Result read = QemuTools.run(List.of(QemuTools.qemuIo().toString(), "-f", "qcow2",
                "-c", "read 0 65536", bad.file().toString()));
        assertThat(read.stdout() + read.stderr()).contains("Input/output error");
    }

    @Test
    void sha256SeesEveryChange() throws IOException {
        Path valid = dir.resolve(BadImages.VALID);
        String digest = BadImages.sha256(valid);
        assertThat(digest).hasSize(64).matches("[0-9a-f]+").isEqualTo(BadImages.sha256(valid));
        // SHA-256 of "abc", FIPS 180-2 appendix B.1.
        Path abc = dir.resolve("abc.txt");
        Files.writeString(abc, "abc");
        assertThat(BadImages.sha256(abc)).isEqualTo("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        for (BadImage bad : cases) {
            if (!bad.name().equals("backing-cycle")) {
                assertThat(BadImages.sha256(bad.file())).as(bad.name()).isNotEqualTo(BadImages.sha256(sourceOf(bad)));
            }
        }
    }

    /** The name as written in the file, read without QEMU (QEMU refuses to open most of these). */
    private static String backingName(String caseName) {
        Path file = BadImages.byName(cases, caseName).file();
        try (FileChannel ch = FileChannel.open(file)) {
            ImageLayout layout = ImageLayout.read(file);
            ByteBuffer b = ByteBuffer.allocate(layout.backingFileSize());
            ch.read(b, layout.backingFileOffset());
            return new String(b.array(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Path sourceOf(BadImage bad) {
        if (bad.name().startsWith("snapshot-")) {
            return dir.resolve(BadImages.VALID_WITH_SNAPSHOT);
        }
        if (bad.name().startsWith("backing-name-")) {
            return dir.resolve(BadImages.VALID_OVERLAY);
        }
        return dir.resolve(BadImages.VALID);
    }

    private static List<Integer> differingOffsets(byte[] a, byte[] b) {
        List<Integer> offsets = new ArrayList<>();
        for (int i = 0; i < a.length; i++) {
            if (a[i] != b[i]) {
                offsets.add(i);
            }
        }
        return offsets;
    }

    static QemuVerdict qemuVerdict(BadImage bad) {
        Duration timeout = Duration.ofSeconds(60);
        String file = bad.file().toString();
        String qemuImg = QemuTools.qemuImg().toString();
        QemuTools.Result info = QemuTools.run(List.of(qemuImg, "info", "--backing-chain", "-f", "qcow2", file), timeout);
        if (info.exitCode() != 0) {
            return QemuVerdict.OPEN_FAILS;
        }
        QemuTools.Result check = QemuTools.run(List.of(qemuImg, "check", "-f", "qcow2", file), timeout);
        if (check.exitCode() == 2) {
            return QemuVerdict.CHECK_FINDS_CORRUPTION;
        }
        assertThat(check.exitCode()).as("qemu-img check of %s: %s", bad.name(), check.stderr()).isZero();
        Path raw = bad.file().resolveSibling(bad.name() + ".raw");
        QemuTools.Result convert = QemuTools.run(List.of(qemuImg, "convert", "-f", "qcow2", "-O", "raw", file,
                raw.toString()), timeout);
        try {
            Files.deleteIfExists(raw);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return convert.exitCode() != 0 ? QemuVerdict.READ_FAILS : QemuVerdict.NOT_DETECTED;
    }
}
