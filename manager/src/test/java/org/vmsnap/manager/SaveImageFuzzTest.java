package org.vmsnap.manager;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Fuzzes the opening of a save image {@code restore} and {@code save-image-dumpxml} are given:
 * vmsnap's memory file or a libvirt 9.0 save image ({@code LibvirtQemudSave} header, XML,
 * cookie, stream). Bytes vmsnap did not write: only an {@link IOException} (one line naming the
 * file) may come out. Seeds: libvirt headers (raw and xz, version 2, each byte order), a
 * partial ({@code LibvirtQemudPart}) image and cut-off headers.
 */
class SaveImageFuzzTest {
    private static Path dir;
    private static Path file;

    @BeforeAll
    static void setUp() throws IOException {
        dir = Files.createTempDirectory("vmsnap-savefuzz");
        file = dir.resolve("image");
    }

    @AfterAll
    static void tearDown() throws IOException {
        Files.deleteIfExists(file);
        Files.deleteIfExists(dir);
    }

    @FuzzTest(maxDuration = "2m")
    void saveImage(byte[] bytes) throws Throwable {
        Files.write(file, bytes);
        try {
            SaveImage.open(file);
        } catch (IOException refused) {
            // the expected outcome for damaged bytes
        }
    }
}
