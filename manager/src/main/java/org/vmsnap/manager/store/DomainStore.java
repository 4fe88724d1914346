package org.vmsnap.manager.store;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import org.vmsnap.manager.ManagerException;
import org.vmsnap.manager.xml.Domain;
import org.vmsnap.manager.xml.SnapshotDef;
import org.vmsnap.manager.xml.SnapshotXml;

/**
 * The state folder of one domain: {@code domain.xml}, {@code snapshots/NAME.xml},
 * {@code current} (the current snapshot's name), {@code owned} (image files vmsnap created, one
 * path per line: only those are ever deleted), {@code journal} and {@code lock}.
 * Reads only; every change goes through a plan step so that it is journaled.
 */
public final class DomainStore {
    private final Path home;
    private final Path dir;
    private final String name;
    /** Parsed snapshot files kept between reads (serve), or null: read and parse every time (the CLI). */
    private final SnapshotFileCache cache;

    public DomainStore(Path home, String name) {
        this(home, name, null);
    }

    public DomainStore(Path home, String name, SnapshotFileCache cache) {
        this.home = home;
        this.dir = home.resolve(name);
        this.name = name;
        this.cache = cache;
    }

    public String name() {
        return name;
    }

    public Path dir() {
        return dir;
    }

    public boolean exists() {
        return Files.isRegularFile(domainFile());
    }

    public Path domainFile() {
        return dir.resolve("domain.xml");
    }

    public Path snapshotFile(String snapshot) {
        return dir.resolve("snapshots").resolve(snapshot + ".xml");
    }

    public Path currentFile() {
        return dir.resolve("current");
    }

    public Path ownedFile() {
        return dir.resolve("owned");
    }

    public Path journalFile() {
        return dir.resolve("journal");
    }

    public Path lockFile() {
        return dir.resolve("lock");
    }

    /**
     * The run folder of the domain's QEMU ({@link RunRoot}): outside this state folder, so that
     * a running QEMU is found again after the state folder is lost (see recover).
     */
    public Path runFolder() throws IOException {
        return RunRoot.folder(home, name);
    }

    /** While QEMU runs: the {@code RunRecord} of the domain's QEMU, in its run folder. */
    public Path runtimeFile() throws IOException {
        return runFolder().resolve("runtime");
    }

    /** Why the domain last stopped, in libvirt's words (shutdown, destroyed, crashed, ...). */
    public Path shutoffReasonFile() {
        return dir.resolve("shutoff-reason");
    }

    public DomainLock lock() throws IOException {
        return DomainLock.acquire(lockFile(), name);
    }

    public Domain readDomain() throws IOException {
        String xml = AtomicFiles.readOrNull(domainFile());
        if (xml == null) {
            throw new org.vmsnap.manager.NotFoundException("Domain not found: no domain with matching name '"
                    + name + "'");
        }
        try {
            return Domain.parse(xml);
        } catch (ManagerException e) {
            throw new ManagerException(domainFile() + ": " + e.getMessage(), e);
        }
    }

    public List<SnapshotDef> readSnapshots() throws IOException {
        return readSnapshots(null);
    }

    /**
     * The snapshot definitions; with {@code damaged} non-null, unreadable files are listed there
     * and skipped instead of failing (for recover).
     */
    public List<SnapshotDef> readSnapshots(List<Damaged> damaged) throws IOException {
        List<SnapshotDef> out = new ArrayList<>();
        Path folder = dir.resolve("snapshots");
        if (!Files.isDirectory(folder)) {
            return out;
        }
        SnapshotFileCache.Listing listing = cache == null ? null : cache.listing(folder);
        try (DirectoryStream<Path> files = Files.newDirectoryStream(folder, "*.xml")) {
            for (Path f : files) {
                if (f.getFileName().toString().startsWith(".")) {
                    continue; // a temporary file of an interrupted atomic write
                }
                SnapshotDef kept = listing == null ? null : listing.lookup(f);
                if (kept != null) {
                    out.add(kept);
                    continue;
                }
                try {
                    SnapshotDef def = SnapshotXml.parseStored(Files.readString(f, StandardCharsets.UTF_8));
                    out.add(def);
                    if (listing != null) {
                        listing.parsed(f, def);
                    }
                } catch (ManagerException e) {
                    if (damaged == null) {
                        throw new ManagerException(f + ": " + e.getMessage(), e);
                    }
                    damaged.add(new Damaged(f, e.getMessage()));
                }
            }
        }
        if (listing != null) {
            listing.done();
        }
        return out;
    }

    /** A metadata file that could not be read, and why (recover sets it aside). */
    public record Damaged(Path file, String reason) {
        @Override
        public String toString() {
            return file + ": " + reason;
        }
    }

    /** The current snapshot's name (exactly: names may begin or end with spaces), or null. */
    public String readCurrent() throws IOException {
        return currentName(AtomicFiles.readOrNull(currentFile()));
    }

    /** The name a {@code current} file holds: its text without the final newline; null if none. */
    public static String currentName(String text) {
        if (text == null) {
            return null;
        }
        String name = text.endsWith("\n") ? text.substring(0, text.length() - 1) : text;
        return name.isEmpty() ? null : name;
    }

    public Set<Path> readOwned() throws IOException {
        String s = AtomicFiles.readOrNull(ownedFile());
        Set<Path> out = new LinkedHashSet<>();
        if (s != null) {
            for (String line : s.split("\n")) {
                if (!line.isBlank()) {
                    out.add(Path.of(line));
                }
            }
        }
        return out;
    }

    /**
     * Internal snapshots whose metadata is gone but which could not be deleted yet: they lie in an
     * image the running QEMU holds below a disk's active image, where QEMU cannot delete them.
     * One {@code <url-encoded path> <url-encoded name>} per line; vmsnap deletes them once no
     * QEMU holds the image.
     */
    public Path pendingFile() {
        return dir.resolve("pending-deletes");
    }

    /** One internal snapshot whose deletion waits: the image and the snapshot's name. */
    public record PendingDelete(Path image, String snapshot) {
        public String line() {
            return java.net.URLEncoder.encode(image.toString(), StandardCharsets.UTF_8) + " "
                    + java.net.URLEncoder.encode(snapshot, StandardCharsets.UTF_8);
        }

        public static PendingDelete parse(String line) {
            int sp = line.indexOf(' ');
            return new PendingDelete(Path.of(java.net.URLDecoder.decode(line.substring(0, sp), StandardCharsets.UTF_8)),
                    java.net.URLDecoder.decode(line.substring(sp + 1), StandardCharsets.UTF_8));
        }
    }

    public Set<PendingDelete> readPending() throws IOException {
        String s = AtomicFiles.readOrNull(pendingFile());
        Set<PendingDelete> out = new LinkedHashSet<>();
        if (s != null) {
            for (String line : s.split("\n")) {
                if (line.indexOf(' ') > 0) {
                    out.add(PendingDelete.parse(line));
                }
            }
        }
        return out;
    }

    public static String pendingText(Set<PendingDelete> pending) {
        StringBuilder b = new StringBuilder();
        pending.forEach(p -> b.append(p.line()).append('\n'));
        return b.toString();
    }

    /**
     * What the images still hold that is no snapshot any more (a deleted external snapshot's
     * frozen image kept as the shared base of its children; an internal snapshot deleted with
     * {@code --metadata}): {@code recover} must not bring these back. Kept in the mirror too.
     */
    public Path retiredFile() {
        return dir.resolve("retired");
    }

    /**
     * One fact of the images that is not a snapshot: an internal snapshot {@code name} inside
     * {@code image}, or (name null) the frozen image {@code image} of a deleted external snapshot.
     */
    public record Retired(Path image, String name) {
        public String line() {
            return (name == null ? "frozen " : "internal ")
                    + java.net.URLEncoder.encode(image.toString(), StandardCharsets.UTF_8)
                    + (name == null ? "" : " " + java.net.URLEncoder.encode(name, StandardCharsets.UTF_8));
        }

        /** The fact a line holds, or null for a line that is not one (a damaged file: recover notes it). */
        public static Retired parse(String line) {
            String[] parts = line.split(" ", -1);
            if (parts.length == 2 && parts[0].equals("frozen")) {
                return new Retired(Path.of(java.net.URLDecoder.decode(parts[1], StandardCharsets.UTF_8)), null);
            }
            if (parts.length == 3 && parts[0].equals("internal")) {
                return new Retired(Path.of(java.net.URLDecoder.decode(parts[1], StandardCharsets.UTF_8)),
                        java.net.URLDecoder.decode(parts[2], StandardCharsets.UTF_8));
            }
            return null;
        }
    }

    public Set<Retired> readRetired() throws IOException {
        return parseRetired(AtomicFiles.readOrNull(retiredFile()));
    }

    public static Set<Retired> parseRetired(String text) {
        Set<Retired> out = new LinkedHashSet<>();
        if (text != null) {
            for (String line : text.split("\n")) {
                Retired r = Retired.parse(line);
                if (r != null) {
                    out.add(r);
                }
            }
        }
        return out;
    }

    public static String retiredText(Set<Retired> retired) {
        StringBuilder b = new StringBuilder();
        retired.forEach(r -> b.append(r.line()).append('\n'));
        return b.toString();
    }

    public static String ownedText(Set<Path> owned) {
        StringBuilder b = new StringBuilder();
        for (Path p : owned) {
            b.append(p).append('\n');
        }
        return b.toString();
    }
}
