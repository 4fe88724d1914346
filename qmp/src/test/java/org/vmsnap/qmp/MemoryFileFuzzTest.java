package org.vmsnap.qmp;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Fuzzes the header check of a memory file that {@code restore} is given (a file the user
 * names, so not necessarily one vmsnap wrote): the fuzzer's bytes are the file. Only an
 * {@link IOException} may come out. Kept to the header reader alone, reached by reflection
 * so that this target does not pin {@link MemoryStream}'s private layout: point it at the
 * reader of the new memory file format when that lands.
 *
 * <p>Seeds: a header {@code MemoryStream.save} writes followed by the start of a zstd frame,
 * a header of an unknown version, and a cut-off header.
 */
class MemoryFileFuzzTest {

    private static Path dir;
    private static Path file;
    private static Method readHeader;

    @BeforeAll
    static void setUp() throws Exception {
        dir = Files.createTempDirectory("vmsnap-memfuzz");
        file = dir.resolve("memory");
        readHeader = MemoryStream.class.getDeclaredMethod("readHeader", FileChannel.class, Path.class);
        readHeader.setAccessible(true);
    }

    @AfterAll
    static void tearDown() throws IOException {
        Files.deleteIfExists(file);
        Files.deleteIfExists(dir);
    }

    @FuzzTest(maxDuration = "2m")
    void memoryFileHeader(byte[] bytes) throws Throwable {
        Files.write(file, bytes);
        try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ)) {
            readHeader.invoke(null, in, file);
        } catch (InvocationTargetException e) {
            if (!(e.getCause() instanceof IOException)) {
                throw e.getCause();
            }
        }
    }
}
