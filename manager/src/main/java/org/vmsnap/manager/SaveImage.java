package org.vmsnap.manager;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

import org.vmsnap.qmp.MemoryFile;
import org.vmsnap.qmp.MemoryStream;

/**
 * A file a domain can be restored from: vmsnap's memory file or a libvirt 9.0 save image. Opening
 * checks it whole (vmsnap's: every frame's checksum; libvirt's: header, XML and the compressed
 * stream's integrity), so a bad file is refused before any QEMU starts.
 */
sealed interface SaveImage permits SaveImage.Vmsnap, LibvirtSaveImage {
    Path file();

    /** The domain XML saved with the state. */
    String domainXml();

    /** Whether the guest ran when saved (restore's default state). */
    boolean wasRunning();

    /** QEMU's migration stream. */
    MemoryStream.StreamSource source();

    /** Opens and checks a save image of either kind; one-line errors naming the file. */
    static SaveImage open(Path file) throws IOException {
        Path f = file.toAbsolutePath().normalize();
        if (!Files.exists(f, LinkOption.NOFOLLOW_LINKS)) {
            throw new InvalidInputException(f + ": No such file or directory");
        }
        if (!Files.isRegularFile(f)) {
            throw new InvalidInputException(f + ": not a regular file");
        }
        try {
            if (MemoryFile.hasMagic(f)) {
                return new Vmsnap(VerifiedMemoryFiles.verify(f));
            }
            if (LibvirtSaveImage.hasMagic(f)) {
                return LibvirtSaveImage.open(f);
            }
        } catch (MemoryFile.BadMemoryFileException e) {
            throw new InvalidInputException(e.getMessage());
        } catch (NoSuchFileException e) {
            throw new InvalidInputException(f + ": No such file or directory");
        } catch (java.nio.file.AccessDeniedException e) {
            throw new InvalidInputException(f + ": Permission denied");
        }
        throw new InvalidInputException(f + ": not a vmsnap memory file or a libvirt save image (bad magic at"
                + " offset 0x0)");
    }

    /** vmsnap's own memory file, verified. */
    record Vmsnap(MemoryFile.Verified verified) implements SaveImage {
        public Path file() {
            return verified.file();
        }

        public String domainXml() {
            return verified.header().domainXml();
        }

        public boolean wasRunning() {
            return verified.header().wasRunning();
        }

        public MemoryStream.StreamSource source() {
            int threads = Math.max(1, Runtime.getRuntime().availableProcessors());
            return out -> MemoryFile.feed(verified, out, threads);
        }
    }
}
