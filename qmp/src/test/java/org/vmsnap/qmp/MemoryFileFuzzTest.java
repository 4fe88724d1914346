package org.vmsnap.qmp;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Fuzzes the check of a memory file that {@code restore} is given (a file the user names, so
 * not necessarily one vmsnap wrote): the fuzzer's bytes are the file, and {@link
 * MemoryFile#verify} (header, XML checksum, frame index, trailer, every frame's checksum) must
 * refuse anything damaged with an {@link IOException}, never another exception, a hang or an
 * allocation sized by the file's claims.
 *
 * <p>Seeds: files of the first memory format (refused by version), a cut-off header, and the
 * fuzzer's own finds.
 */
class MemoryFileFuzzTest {

    private static Path dir;
    private static Path file;

    @BeforeAll
    static void setUp() throws Exception {
        dir = Files.createTempDirectory("vmsnap-memfuzz");
        file = dir.resolve("memory");
    }

    @AfterAll
    static void tearDown() throws IOException {
        Files.deleteIfExists(file);
        Files.deleteIfExists(dir);
    }

    @FuzzTest(maxDuration = "2m")
    void memoryFileHeader(byte[] bytes) throws Throwable {
        Files.write(file, bytes);
        try {
            MemoryFile.verify(file);
        } catch (IOException refused) {
            // the expected outcome for damaged bytes
        }
    }
}
