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
    private final Path dir;
    private final String name;

    public DomainStore(Path home, String name) {
        this.dir = home.resolve(name);
        this.name = name;
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

    /** While QEMU runs: the {@code RunRecord} of the domain's QEMU. */
    public Path runtimeFile() {
        return dir.resolve("runtime");
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
    public List<SnapshotDef> readSnapshots(List<String> damaged) throws IOException {
        List<SnapshotDef> out = new ArrayList<>();
        Path folder = dir.resolve("snapshots");
        if (!Files.isDirectory(folder)) {
            return out;
        }
        try (DirectoryStream<Path> files = Files.newDirectoryStream(folder, "*.xml")) {
            for (Path f : files) {
                if (f.getFileName().toString().startsWith(".")) {
                    continue; // a temporary file of an interrupted atomic write
                }
                try {
                    out.add(SnapshotXml.parse(Files.readString(f, StandardCharsets.UTF_8)));
                } catch (ManagerException e) {
                    if (damaged == null) {
                        throw new ManagerException(f + ": " + e.getMessage(), e);
                    }
                    damaged.add(f + ": " + e.getMessage());
                }
            }
        }
        return out;
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

    public static String ownedText(Set<Path> owned) {
        StringBuilder b = new StringBuilder();
        for (Path p : owned) {
            b.append(p).append('\n');
        }
        return b.toString();
    }
}
