package org.vmsnap.manager.scenario;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The folders vmsnap keeps metadata in are its own: created 0700, never a symbolic link, and a
 * link planted where it writes a temporary file is replaced, not followed.
 */
class MetadataFolderSafetyTest {
    @TempDir
    Path tmp;

    private static String mode(Path p) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p, java.nio.file.LinkOption.NOFOLLOW_LINKS));
    }

    @Test
    void stateAndMirrorFoldersAreCreatedPrivate() throws IOException {
        ScenarioFixture f = ScenarioFixture.twoQcow2(tmp);
        f.create("s1", ScenarioFixture.NONE);
        Path mirror = f.userFiles.get("vda").resolveSibling("." + ScenarioFixture.DOMAIN + ".vmsnap");
        for (Path p : new Path[] {f.home, f.home.resolve(ScenarioFixture.DOMAIN),
                f.home.resolve(ScenarioFixture.DOMAIN).resolve("snapshots"), mirror}) {
            assertThat(mode(p)).as("mode of %s", p).isEqualTo("rwx------");
        }
    }

    @Test
    void aMirrorFolderThatIsALinkIsRefusedAndItsTargetUntouched() throws IOException {
        ScenarioFixture f = ScenarioFixture.twoQcow2(tmp);
        Path mirror = f.userFiles.get("vda").resolveSibling("." + ScenarioFixture.DOMAIN + ".vmsnap");
        // define wrote the mirror's first file; someone replaces the folder by a link elsewhere
        try (var files = Files.list(mirror)) {
            for (Path p : files.toList()) {
                Files.delete(p);
            }
        }
        Files.delete(mirror);
        Path elsewhere = Files.createDirectories(tmp.resolve("elsewhere"));
        Files.createSymbolicLink(mirror, elsewhere);
        assertThatThrownBy(() -> f.create("s1", ScenarioFixture.NONE)).hasMessageContaining(mirror.toString())
                .hasMessageContaining("is a symbolic link");
        try (var files = Files.list(elsewhere)) {
            assertThat(files.toList()).as("files written through the link").isEmpty();
        }
        assertThat(f.service().tree().all()).as("nothing was created").isEmpty();
    }

    @Test
    void aLinkPlantedAsTheTemporaryFileIsNotFollowed() throws IOException {
        ScenarioFixture f = ScenarioFixture.twoQcow2(tmp);
        Path mirror = f.userFiles.get("vda").resolveSibling("." + ScenarioFixture.DOMAIN + ".vmsnap");
        Path victim = Files.writeString(tmp.resolve("victim"), "precious\n");
        Files.createSymbolicLink(mirror.resolve(".current.tmp"), victim);
        Files.createSymbolicLink(f.home.resolve(ScenarioFixture.DOMAIN).resolve(".current.tmp"), victim);
        f.create("s1", ScenarioFixture.NONE);
        assertThat(Files.readString(victim)).isEqualTo("precious\n");
        assertThat(Files.readString(mirror.resolve("current"))).isEqualTo("s1\n");
        assertThat(Files.isSymbolicLink(mirror.resolve("current"))).isFalse();
    }
}
