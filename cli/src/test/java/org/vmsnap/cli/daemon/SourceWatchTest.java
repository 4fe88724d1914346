package org.vmsnap.cli.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SourceWatch answers as the launcher's {@code stale} rule does (pom.xml, *&#47;pom.xml, *&#47;src/main
 * and all under it, against cli/target/vmsnap.jar), for every kind of change, right after it.
 */
class SourceWatchTest {
    @TempDir
    Path root;
    Path jar;
    SourceWatch watch;
    final Instant old = Instant.now().minusSeconds(300);

    @BeforeEach
    void tree() throws IOException {
        for (String f : List.of("pom.xml", "cli/pom.xml", "cli/src/main/java/org/A.java",
                "cli/src/main/resources/r.txt", "cli/src/test/java/ATest.java", "qcow2/pom.xml",
                "qcow2/src/main/java/B.java", "bench/x.sh",
                ".git/HEAD")) {
            Files.createDirectories(root.resolve(f).getParent());
            Files.writeString(root.resolve(f), "");
        }
        try (var all = Files.walk(root)) {
            for (Path p : all.toList()) {
                Files.setLastModifiedTime(p, FileTime.from(old));
            }
        }
        jar = Files.createDirectories(root.resolve("cli/target")).resolve("vmsnap.jar");
        Files.writeString(jar, "");
        Files.setLastModifiedTime(jar, FileTime.from(old.plusSeconds(100)));
        watch = SourceWatch.start(root, jar);
        assertThat(watch.current()).isTrue();
        assertThat(watch.watching()).as("inotify works here (else every question walks, and these tests prove less)")
                .isTrue();
    }

    @AfterEach
    void close() {
        watch.close();
    }

    @Test
    void anEditAnywhereTheLauncherLooksIsSeenAtOnce() throws IOException {
        for (String f : List.of("cli/src/main/java/org/A.java", "cli/src/main/resources/r.txt", "pom.xml",
                "qcow2/pom.xml", "qcow2/src/main/java/B.java")) {
            Files.writeString(root.resolve(f), "x");
            assertThat(watch.current()).as(f).isFalse();
            assertThat(watch.current()).as("%s, asked again", f).isFalse();
            rebuilt();
        }
    }

    @Test
    void addedRemovedAndRenamedFilesAndFoldersAreSeen() throws IOException {
        Path added = Files.createDirectories(root.resolve("cli/src/main/java/org/p")).resolve("C.java");
        Files.writeString(added, "");
        assertThat(watch.current()).isFalse();
        rebuilt();
        // The new folder is watched from then on.
        Files.writeString(added, "x");
        assertThat(watch.current()).isFalse();
        rebuilt();
        Files.delete(root.resolve("qcow2/src/main/java/B.java"));
        assertThat(watch.current()).as("a removed file: its folder is newer").isFalse();
        rebuilt();
        Files.move(root.resolve("cli/src/main/resources/r.txt"), root.resolve("cli/src/main/resources/s.txt"));
        assertThat(watch.current()).isFalse();
        rebuilt();
        Path module = Files.createDirectories(root.resolve("newmod/src/main/java"));
        Files.writeString(module.resolve("D.java"), "");
        assertThat(watch.current()).as("a new module").isFalse();
    }

    @Test
    void whatTheLauncherDoesNotLookAtChangesNothing() throws IOException {
        Files.writeString(root.resolve("cli/src/test/java/ATest.java"), "x");
        Files.writeString(root.resolve("bench/x.sh"), "x");
        Files.writeString(root.resolve(".git/HEAD"), "x");
        Files.writeString(root.resolve(".vmsnap-build.lock"), "");
        Files.writeString(root.resolve("cli/target/other"), "x");
        assertThat(watch.current()).isTrue();
        // An event whose file is still older than the jar (a touch into the past): walked, still current.
        Files.setLastModifiedTime(root.resolve("cli/src/main/java/org/A.java"), FileTime.from(old));
        assertThat(watch.current()).isTrue();
    }

    @Test
    void aMissingJarIsNeverCurrent() throws IOException {
        Files.delete(jar);
        Files.writeString(root.resolve("cli/target/x"), ""); // no event where the watch looks
        Files.setLastModifiedTime(root.resolve("cli/src/main/java/org/A.java"), FileTime.from(old));
        assertThat(watch.current()).isFalse();
    }

    /**
     * As a build leaves it: the jar as new as the newest source (equal is not newer), then a pause,
     * so that the next change gets a later time from the file system's coarse clock (a few ms).
     */
    private void rebuilt() throws IOException {
        FileTime newest = FileTime.from(old);
        try (var all = Files.walk(root)) {
            for (Path p : all.filter(p -> !p.equals(jar)).toList()) {
                FileTime t = Files.getLastModifiedTime(p);
                newest = t.compareTo(newest) > 0 ? t : newest;
            }
        }
        Files.setLastModifiedTime(jar, newest);
        assertThat(watch.current()).as("after the build").isTrue();
        try {
            Thread.sleep(20);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
