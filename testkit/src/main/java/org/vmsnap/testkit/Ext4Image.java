package org.vmsnap.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Function;

/**
 * Looks inside an ext4 disk image from the host with e2fsprogs, the way the guest would see it.
 *
 * <p>Every look works on a private raw copy ({@code qemu-img convert -U}, so an image a running
 * QEMU holds can be read too), never on the image itself: e2fsck and debugfs want a raw file, and
 * a journal replay changes the file it runs on.
 */
final class Ext4Image {

    private Ext4Image() {
    }

    /**
     * The text of {@code file} (an absolute path inside the file system) as a mount would show
     * it: the journal is replayed first, since an image copied while the guest wrote holds its
     * latest appends only in the journal. A missing file reads as "".
     */
    static String readFile(Path image, String format, String file) {
        return withRawCopy(image, format, raw -> {
            // e2fsck exits 0 (nothing to do) or 1 (journal replayed) here; more is a broken image.
            QemuTools.Result replay = QemuTools.run(List.of(e2fsck(), "-E", "journal_only", "-y", raw.toString()));
            if (replay.exitCode() > 1) {
                throw new AssertionError(replay.describe("could not replay the journal of a copy of " + image));
            }
            return QemuTools.run(List.of(debugfs(), "-R", "cat " + file, raw.toString())).requireSuccess().stdout();
        });
    }

    /** {@code e2fsck -fn} on a copy: exit 0 means clean; the journal is not replayed (-n). */
    static TestGuest.Fsck fsck(Path image, String format) {
        return withRawCopy(image, format, raw -> {
            QemuTools.Result r = QemuTools.run(List.of(e2fsck(), "-fn", raw.toString()));
            return new TestGuest.Fsck(r.exitCode(), r.stdout() + r.stderr());
        });
    }

    /**
     * Whether the superblock has the {@code needs_recovery} feature: the journal holds
     * transactions not yet written home. A mounted ext4 sets it and only a freeze or an
     * unmount clears it, so a copy taken while the guest writes has it.
     */
    static boolean needsRecovery(Path image, String format) {
        return withRawCopy(image, format, raw -> {
            QemuTools.Result r = QemuTools.run(List.of(QemuTools.find("dumpe2fs", "e2fsprogs").toString(), "-h",
                    raw.toString())).requireSuccess();
            String features = r.stdout().lines().filter(l -> l.startsWith("Filesystem features:")).findFirst()
                    .orElseThrow(() -> new AssertionError(r.describe("printed no 'Filesystem features:' line")));
            return List.of(features.substring(features.indexOf(':') + 1).strip().split("\\s+")).contains("needs_recovery");
        });
    }

    private static <T> T withRawCopy(Path image, String format, Function<Path, T> body) {
        Path raw = null;
        try {
            Path folder = image.toAbsolutePath().getParent();
            raw = Files.createTempFile(folder, "." + image.getFileName() + ".", ".raw");
            QemuTools.run(List.of(QemuTools.qemuImg().toString(), "convert", "-U", "-f", format, "-O", "raw",
                    image.toString(), raw.toString())).requireSuccess();
            return body.apply(raw);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot make a scratch copy of " + image, e);
        } finally {
            if (raw != null) {
                try {
                    Files.deleteIfExists(raw);
                } catch (IOException ignored) {
                    // a leftover scratch copy is harmless
                }
            }
        }
    }

    private static String e2fsck() {
        return QemuTools.find("e2fsck", "e2fsprogs").toString();
    }

    private static String debugfs() {
        return QemuTools.find("debugfs", "e2fsprogs").toString();
    }
}
