package org.vmsnap.cli;

import static org.vmsnap.cli.Differential.assertSame;
import static org.vmsnap.cli.Differential.sparseRaw;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sparse raw files against qemu-img: map must show the holes and info the allocated size.
 * Needs the file store with SEEK_DATA/SEEK_HOLE and st_blocks (io branch) behind RawImage.
 */
class RawSparseIT {

    @TempDir
    Path dir;

    @Test
    void mapShowsHolesAsQemuDoes() throws IOException {
        long mib = 1 << 20;
        String sparse = sparseRaw(dir.resolve("s.raw"), 8 * mib, (byte) 1, 10000, 100 * 1024, 3 * mib + 7, 8 * mib - 4096)
                .toString();
        String holeOnly = sparseRaw(dir.resolve("h.raw"), 3000, (byte) 0, 0).toString();
        Path odd = dir.resolve("odd.raw");
        Files.write(odd, "abc".getBytes());
        Differential.append(odd, new byte[1020]);
        for (String f : new String[] {sparse, holeOnly, odd.toString()}) {
            assertSame("map", f);
            assertSame("map", "--output=json", f);
            assertSame("info", f);
            assertSame("info", "--output=json", f);
        }
        QemuImg.ok("create", "-f", "raw", dir.resolve("fresh.raw").toString(), "4M");
        assertSame("map", "--output=json", dir.resolve("fresh.raw").toString());
        assertSame("info", dir.resolve("fresh.raw").toString());
    }

    @Test
    void strictCompareSeesTheSameBlockStatus() throws IOException {
        long mib = 1 << 20;
        String a = sparseRaw(dir.resolve("a.raw"), 4 * mib, (byte) 1, 4096, 0, 65536).toString();
        String b = sparseRaw(dir.resolve("b.raw"), 4 * mib, (byte) 1, 4096, 0, 65536).toString();
        String c = sparseRaw(dir.resolve("c.raw"), 4 * mib, (byte) 0, 4096, 0, 65536, 2 * mib).toString();
        assertSame("compare", "-s", a, b);
        assertSame("compare", "-s", a, c);
    }
}
