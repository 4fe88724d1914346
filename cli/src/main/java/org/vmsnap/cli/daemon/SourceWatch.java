package org.vmsnap.cli.daemon;

import java.io.Closeable;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.stream.Stream;

/**
 * Whether the jar a daemon runs is still as new as the sources of the checkout it was built from,
 * the launcher's {@code stale} rule ({@code pom.xml}, {@code *}{@code /pom.xml}, {@code *}{@code
 * /src/main} and everything under it, none newer than the jar), answered in microseconds.
 *
 * <p>Why: the launcher checks that rule before every command, by one {@code stat} per source
 * file: ~460 of them, 4-8 ms of a forwarded command that takes 25-40 ms in all. A daemon that
 * watches the folders ({@link Inotify}) knows instead; the launcher then
 * hands it the command first and checks the rule itself only when the daemon declines.
 *
 * <p>Nothing is missed: the folders are watched before they are walked once, so a change made
 * during the walk is seen by one or the other. An event of any kind (also one that does not matter,
 * as a lock file beside the root pom) only makes the next {@link #current} walk again; a walk that
 * finds everything older than the jar clears it. A new folder under {@code src/main} is watched from
 * the walk on. When the watch cannot be kept (no inotify, too many watches), every question walks,
 * which is what the launcher did anyway.
 */
final class SourceWatch implements Closeable {
    private final Path root;
    private final Path jar;
    /** Null when inotify cannot be used here: then every question walks. */
    private final Inotify inotify;
    /** Something may have changed since the last walk; guarded by this. */
    private boolean dirty = true;
    /** The watch lost track (a folder it could not watch, a descriptor it cannot read): walk every time. */
    private boolean blind;

    private SourceWatch(Path root, Path jar, Inotify inotify) {
        this.root = root;
        this.jar = jar;
        this.inotify = inotify;
        this.blind = inotify == null;
    }

    /** Watches the checkout {@code root} that {@code jar} was built from. */
    static SourceWatch start(Path root, Path jar) {
        return new SourceWatch(root, jar, Inotify.open());
    }

    Path root() {
        return root;
    }

    /** Whether the watch works (else every question walks). */
    synchronized boolean watching() {
        return !blind;
    }

    /**
     * True when nothing the launcher's rule looks at is newer than the jar: the daemon may run a
     * command from this checkout. Walks only after an event since the last walk.
     */
    synchronized boolean current() {
        drainEvents();
        if (!dirty && !blind) {
            return true;
        }
        dirty = false; // an event from now on makes the next question walk again
        boolean fresh;
        try {
            fresh = walk();
        } catch (IOException | RuntimeException e) {
            fresh = false;
        }
        if (!fresh) {
            dirty = true; // ask again next time: the user may rebuild meanwhile
        }
        return fresh;
    }

    private void drainEvents() {
        if (inotify != null) {
            switch (inotify.drain()) {
                case 0 -> { }
                case 1 -> dirty = true;
                default -> blind = true;
            }
        }
    }

    /** The launcher's rule, watching every folder it passes first. */
    private boolean walk() throws IOException {
        FileTime jarTime = Files.getLastModifiedTime(jar);
        watch(root);
        if (newer(root.resolve("pom.xml"), jarTime)) {
            return false;
        }
        try (DirectoryStream<Path> modules = Files.newDirectoryStream(root)) {
            for (Path m : modules) {
                // The shell's * leaves out names with a leading dot (.git, .ci).
                if (m.getFileName().toString().startsWith(".") || !Files.isDirectory(m, LinkOption.NOFOLLOW_LINKS)) {
                    continue;
                }
                watch(m);
                if (newer(m.resolve("pom.xml"), jarTime)) {
                    return false;
                }
                Path main = m.resolve("src").resolve("main");
                if (Files.isDirectory(main)) {
                    watch(m.resolve("src"));
                    if (!treeOlder(main, jarTime)) {
                        return false;
                    }
                }
            }
        }
        return true;
    }

    private boolean treeOlder(Path main, FileTime jarTime) throws IOException {
        try (Stream<Path> all = Files.walk(main)) {
            for (Path p : (Iterable<Path>) all::iterator) {
                if (Files.getLastModifiedTime(p).compareTo(jarTime) > 0) {
                    return false;
                }
                if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    watch(p);
                }
            }
        }
        return true;
    }

    private static boolean newer(Path file, FileTime jarTime) throws IOException {
        return Files.exists(file) && Files.getLastModifiedTime(file).compareTo(jarTime) > 0;
    }

    /** Watches {@code dir} (again after a walk: a folder keeps its one watch, a new one gets its own). */
    private void watch(Path dir) {
        if (inotify != null && !inotify.watch(dir)) {
            blind = true; // e.g. the inotify watch limit: walk every time
        }
    }

    @Override
    public void close() {
        if (inotify != null) {
            inotify.close();
        }
    }
}
