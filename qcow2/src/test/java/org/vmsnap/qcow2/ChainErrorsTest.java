package org.vmsnap.qcow2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.vmsnap.qcow2.Chains.MIB;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmsnap.qcow2.engine.Qcow2Engine;
import org.vmsnap.qcow2.format.Limits;
import org.vmsnap.qcow2.io.FileBlockStore;

/**
 * Bad backing chains and bad chain operations: each is refused with one line naming the
 * file, and the files are left exactly as they were.
 */
class ChainErrorsTest {

    @TempDir
    Path dir;

    /** Records the header's backing name and format as given, past every check (a hostile image). */
    private static void storeBacking(Path image, String name, String format) throws IOException {
        FileBlockStore store = FileBlockStore.open(image, false, false);
        Qcow2Engine engine = Qcow2Engine.open(store, Qcow2Engine.readHeader(store), false, null);
        try {
            engine.setBacking(name, format);
        } finally {
            engine.close();
        }
    }

    private Path top(String backing, String format) throws IOException {
        return Chains.qcow2(dir.resolve("top.qcow2"), MIB, backing, format);
    }

    /** Opening the chain, describing it and committing it all fail with the same kind of error. */
    private void assertRefused(Path top, String... messageParts) throws IOException {
        Map<Path, String> before = digests();
        assertThatThrownBy(() -> Qcow2Image.open(top, OpenOptions.readOnlyOpen()).close())
                .isInstanceOf(BackingChainException.class).hasMessageContainingAll(messageParts);
        assertThatThrownBy(() -> ImageChain.describe(top, OpenOptions.readOnlyOpen()))
                .isInstanceOf(BackingChainException.class).hasMessageContainingAll(messageParts);
        assertThatThrownBy(() -> ImageCommit.commit(top, null, null, false, Progress.NONE))
                .isInstanceOf(BackingChainException.class).hasMessageContainingAll(messageParts);
        assertThatThrownBy(() -> ImageRebase.rebase(top, null, "", null, false, Progress.NONE))
                .isInstanceOf(BackingChainException.class).hasMessageContainingAll(messageParts);
        assertThat(digests()).as("files unchanged").isEqualTo(before);
    }

    private Map<Path, String> digests() throws IOException {
        Map<Path, String> all = new TreeMap<>();
        try (var files = Files.list(dir)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                all.put(f, Chains.digest(f));
            }
        }
        return all;
    }

    @Test
    void missingBackingFileIsNamed() throws IOException {
        Path top = top("gone.qcow2", "qcow2");
        assertRefused(top, top.toString(), "'gone.qcow2' not found");
    }

    @Test
    void unreadableBackingFileIsNamed() throws IOException {
        Files.createDirectory(dir.resolve("folder.qcow2"));
        Path top = top("folder.qcow2", "qcow2");
        assertRefused(top, top.toString(), "'folder.qcow2'");
    }

    @Test
    void backingFileOfTheWrongFormatIsRefused() throws IOException {
        Files.write(dir.resolve("plain.raw"), new byte[MIB]);
        Path top = top("plain.raw", "qcow2");
        assertRefused(top, top.toString(), "'plain.raw'", "not a qcow2");
    }

    @Test
    void unknownBackingFormatIsRefused() throws IOException {
        Chains.qcow2(dir.resolve("base.vmdk"), MIB, null, null);
        Path top = top("base.vmdk", "qcow2");
        storeBacking(top, "base.vmdk", "vmdk");
        assertRefused(top, top.toString(), "unsupported format 'vmdk'");
    }

    @Test
    void backingFileWithoutRecordedFormatIsNeverProbed() throws IOException {
        Chains.qcow2(dir.resolve("base.qcow2"), MIB, null, null);
        Path top = top("base.qcow2", "qcow2");
        storeBacking(top, "base.qcow2", null);
        assertRefused(top, top.toString(), "no recorded format", "never probes");
    }

    @Test
    void protocolNamesAreRefused() throws IOException {
        for (String name : List.of("nbd:localhost:10809", "http://example.com/disk.qcow2",
                "json:{\"driver\":\"file\",\"filename\":\"/etc/passwd\"}", "file:base.qcow2")) {
            Path top = dir.resolve("top.qcow2");
            Files.deleteIfExists(top);
            top(name, "raw");
            assertRefused(top, top.toString(), "protocol prefix");
        }
    }

    @Test
    void cyclesAreRefused() throws IOException {
        Path a = Chains.qcow2(dir.resolve("a.qcow2"), MIB, "b.qcow2", "qcow2");
        Chains.qcow2(dir.resolve("b.qcow2"), MIB, "a.qcow2", "qcow2");
        assertRefused(a, "b.qcow2", "'a.qcow2' creates an infinite loop");
        Path self = Chains.qcow2(dir.resolve("self.qcow2"), MIB, "./self.qcow2", "qcow2");
        assertRefused(self, "self.qcow2", "creates an infinite loop");
    }

    @Test
    void chainsDeeperThanTheLimitAreRefused() throws IOException {
        int depth = Limits.MAX_BACKING_CHAIN_DEPTH;
        Chains.quickQcow2(dir.resolve("l0.qcow2"), MIB, null, null);
        for (int i = 1; i <= depth + 1; i++) {
            Chains.quickQcow2(dir.resolve("l" + i + ".qcow2"), MIB, "l" + (i - 1) + ".qcow2", "qcow2");
        }
        Chains.fill(dir.resolve("l0.qcow2"), 0, 4096, 0x5a);
        // Exactly the limit of backing files: opens and reads the bottom's data.
        Path atLimit = dir.resolve("l" + depth + ".qcow2");
        try (Qcow2Image img = Qcow2Image.open(atLimit, OpenOptions.readOnlyOpen())) {
            assertThat(Chains.view(img)[4095]).isEqualTo((byte) 0x5a);
            assertThat(img.blockStatus(0, 4096).depth()).isEqualTo(depth);
        }
        assertThat(ImageChain.describe(atLimit, OpenOptions.readOnlyOpen())).hasSize(depth + 1);
        Path beyond = dir.resolve("l" + (depth + 1) + ".qcow2");
        assertThatThrownBy(() -> Qcow2Image.open(beyond, OpenOptions.readOnlyOpen()).close())
                .isInstanceOf(BackingChainException.class).hasMessageContaining("deeper than " + depth);
        assertThatThrownBy(() -> ImageChain.describe(beyond, OpenOptions.readOnlyOpen()))
                .isInstanceOf(BackingChainException.class).hasMessageContaining("deeper than " + depth);
    }

    @Test
    void commitOfAnImageWithoutBackingFileIsRefused() throws IOException {
        Path alone = Chains.qcow2(dir.resolve("alone.qcow2"), MIB, null, null);
        Chains.fill(alone, 0, 4096, 1);
        Path raw = dir.resolve("disk.raw");
        Files.write(raw, new byte[MIB]);
        Map<Path, String> before = digests();
        assertThatThrownBy(() -> ImageCommit.commit(alone, null, null, false, Progress.NONE))
                .isInstanceOf(BackingChainException.class).hasMessage(alone + ": Image does not have a backing file");
        assertThatThrownBy(() -> ImageCommit.commit(raw, null, null, false, Progress.NONE))
                .isInstanceOf(BackingChainException.class).hasMessageContaining("Image does not have a backing file");
        assertThat(digests()).isEqualTo(before);
    }

    @Test
    void commitIntoABaseOutsideTheChainIsRefused() throws IOException {
        Chains.qcow2(dir.resolve("base.qcow2"), MIB, null, null);
        Chains.qcow2(dir.resolve("other.qcow2"), MIB, null, null);
        Path top = top("base.qcow2", "qcow2");
        Chains.fill(top, 0, 4096, 1);
        Map<Path, String> before = digests();
        for (String base : List.of("other.qcow2", "top.qcow2", "nowhere.qcow2")) {
            assertThatThrownBy(() -> ImageCommit.commit(top, null, base, true, Progress.NONE))
                    .isInstanceOf(BackingChainException.class)
                    .hasMessage(top + ": Did not find '" + base + "' in the backing chain of '" + top + "'");
        }
        assertThat(digests()).isEqualTo(before);
    }

    @Test
    void commitIntoAnImageInUseIsRefused() throws IOException {
        Chains.qcow2(dir.resolve("base.qcow2"), MIB, null, null);
        Path top = top("base.qcow2", "qcow2");
        Chains.fill(top, 0, 4096, 1);
        Map<Path, String> before = digests();
        // Another writer of the base (another process, or another open in this one: OFD locks).
        try (Qcow2Image holder = Qcow2Image.open(dir.resolve("base.qcow2"), OpenOptions.readWrite())) {
            assertThatThrownBy(() -> ImageCommit.commit(top, null, null, false, Progress.NONE))
                    .isInstanceOf(ImageInUseException.class).hasMessageContaining("base.qcow2")
                    .hasMessageContaining("\"write\" lock");
        }
        // A reader of the base does not share writing either.
        try (Qcow2Image reader = Qcow2Image.open(dir.resolve("base.qcow2"), OpenOptions.readOnlyOpen())) {
            assertThatThrownBy(() -> ImageCommit.commit(top, null, null, false, Progress.NONE))
                    .isInstanceOf(ImageInUseException.class).hasMessageContaining("base.qcow2");
        }
        try (Qcow2Image holder = Qcow2Image.open(top, OpenOptions.readWrite())) {
            assertThatThrownBy(() -> ImageCommit.commit(top, null, null, false, Progress.NONE))
                    .isInstanceOf(ImageInUseException.class).hasMessageContaining("top.qcow2");
        }
        assertThat(digests()).isEqualTo(before);
    }

    @Test
    void rebaseRefusalsChangeNothing() throws IOException {
        Path base = Chains.qcow2(dir.resolve("base.qcow2"), MIB, null, null);
        Chains.fill(base, 0, 65536, 2);
        Path mid = Chains.qcow2(dir.resolve("mid.qcow2"), MIB, "base.qcow2", "qcow2");
        Chains.fill(mid, 65536, 4096, 3);
        Path top = top("mid.qcow2", "qcow2");
        Chains.fill(top, 0, 4096, 1);
        Chains.qcow2(dir.resolve("over.qcow2"), MIB, "top.qcow2", "qcow2");
        Path raw = dir.resolve("disk.raw");
        Files.write(raw, new byte[MIB]);
        Map<Path, String> before = digests();
        assertThatThrownBy(() -> ImageRebase.rebase(top, null, "base.qcow2", null, false, Progress.NONE))
                .isInstanceOf(BackingChainException.class)
                .hasMessage(top + ": Could not change the backing file to 'base.qcow2': backing format must be specified");
        assertThatThrownBy(() -> ImageRebase.rebase(top, null, "base.qcow2", null, true, Progress.NONE))
                .hasMessageContaining("backing format must be specified");
        assertThatThrownBy(() -> ImageRebase.rebase(top, null, "gone.qcow2", "qcow2", false, Progress.NONE))
                .isInstanceOf(BackingChainException.class).hasMessageContaining("gone.qcow2");
        assertThatThrownBy(() -> ImageRebase.rebase(top, null, "over.qcow2", "qcow2", false, Progress.NONE))
                .isInstanceOf(BackingChainException.class).hasMessageContaining("infinite loop");
        assertThatThrownBy(() -> ImageRebase.rebase(top, null, "top.qcow2", "qcow2", false, Progress.NONE))
                .isInstanceOf(BackingChainException.class).hasMessageContaining("infinite loop");
        assertThatThrownBy(() -> ImageRebase.rebase(top, null, "nbd:localhost:1", "raw", true, Progress.NONE))
                .isInstanceOf(BackingChainException.class).hasMessageContaining("protocol prefix");
        assertThatThrownBy(() -> ImageRebase.rebase(top, null, "base.qcow2", "vmdk", false, Progress.NONE))
                .isInstanceOf(BackingChainException.class).hasMessageContaining("unsupported format 'vmdk'");
        assertThatThrownBy(() -> ImageRebase.rebase(raw, null, "base.qcow2", "qcow2", false, Progress.NONE))
                .isInstanceOf(UnsupportedFeatureException.class).hasMessageContaining("Operation not supported");
        try (Qcow2Image holder = Qcow2Image.open(top, OpenOptions.readOnlyOpen())) {
            assertThatThrownBy(() -> ImageRebase.rebase(top, null, "base.qcow2", "qcow2", false, Progress.NONE))
                    .isInstanceOf(ImageInUseException.class).hasMessageContaining("top.qcow2");
            assertThatThrownBy(() -> ImageRebase.rebase(top, null, "base.qcow2", "qcow2", true, Progress.NONE))
                    .isInstanceOf(ImageInUseException.class).hasMessageContaining("top.qcow2");
        }
        assertThat(digests()).isEqualTo(before);
    }

    @Test
    void backingNamesThatDoNotFitTheHeaderAreRefused() throws IOException {
        Path small = Chains.qcow2(dir.resolve("small.qcow2"),
                Qcow2CreateOptions.ofSize(MIB).withClusterSize(512));
        Map<Path, String> before = digests();
        String name = "b".repeat(500);
        assertThatThrownBy(() -> ImageRebase.rebase(small, null, name, "raw", true, Progress.NONE))
                .isInstanceOf(UnsupportedFeatureException.class).hasMessageContaining("does not fit in the header cluster");
        assertThatThrownBy(() -> ImageRebase.rebase(small, null, "c".repeat(1024), "raw", true, Progress.NONE))
                .isInstanceOf(UnsupportedFeatureException.class).hasMessageContaining("longer than 1023 bytes");
        assertThat(digests()).isEqualTo(before);
    }
}
