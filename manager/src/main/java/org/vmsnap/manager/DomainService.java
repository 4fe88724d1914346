package org.vmsnap.manager;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;

import org.vmsnap.manager.plan.Journal;
import org.vmsnap.manager.plan.OfflineExecutor;
import org.vmsnap.manager.plan.PlanRunner;
import org.vmsnap.manager.store.AtomicFiles;
import org.vmsnap.manager.store.DomainLock;
import org.vmsnap.manager.store.DomainStore;
import org.vmsnap.manager.xml.DiskDef;
import org.vmsnap.manager.xml.Names;

import org.vmsnap.manager.xml.Domain;

/** Defined domains under one state folder: define, undefine, list, look up. */
public final class DomainService {
    private final Path home;

    public DomainService(Path home) {
        this.home = home;
    }

    /**
     * {@code $VMSNAP_HOME}, or {@code ~/.local/share/vmsnap}; the system property
     * {@code vmsnap.home} comes first (the demo runs commands in process on its own folder).
     */
    public static Path defaultHome() {
        String prop = System.getProperty("vmsnap.home");
        if (prop != null && !prop.isEmpty()) {
            return Path.of(prop).toAbsolutePath();
        }
        String env = System.getenv("VMSNAP_HOME");
        if (env != null && !env.isEmpty()) {
            return Path.of(env).toAbsolutePath();
        }
        return Path.of(System.getProperty("user.home"), ".local", "share", "vmsnap");
    }

    public Path home() {
        return home;
    }

    /** Defines a new domain or updates one with the same name (and UUID); returns it with its UUID. */
    public Domain define(String xml) throws IOException {
        Domain parsed = Domain.parse(xml);
        Domain d = parsed.uuid() != null ? parsed : parsed.withUuid(UUID.randomUUID().toString());
        for (Domain other : list()) {
            if (!other.name().equals(d.name()) && other.uuid() != null && other.uuid().equalsIgnoreCase(d.uuid())) {
                throw new InvalidInputException("domain '" + other.name() + "' already exists with uuid " + d.uuid());
            }
        }
        DomainStore store = new DomainStore(home, d.name());
        Files.createDirectories(store.dir());
        try (DomainLock lock = store.lock()) {
            new PlanRunner(new Journal(store.journalFile()), new OfflineExecutor()).recover();
            if (store.exists()) {
                Domain old = store.readDomain();
                if (parsed.uuid() == null) {
                    d = parsed.withUuid(old.uuid());
                } else if (old.uuid() != null && !old.uuid().equalsIgnoreCase(d.uuid())) {
                    throw new InvalidInputException("domain '" + d.name() + "' is already defined with uuid "
                            + old.uuid());
                }
            }
            AtomicFiles.write(store.domainFile(), d.toXml());
        }
        return d;
    }

    /**
     * Removes a domain's definition. Refuses when it has snapshot metadata unless
     * {@code snapshotsMetadata}; deletes its disk images only with {@code removeAllStorage}.
     *
     * @return the image files removed
     */
    public List<Path> undefine(String name, boolean snapshotsMetadata, boolean removeAllStorage) throws IOException {
        DomainStore store = existing(name);
        List<Path> removed = new ArrayList<>();
        try (DomainLock lock = store.lock()) {
            new PlanRunner(new Journal(store.journalFile()), new OfflineExecutor()).recover();
            Domain d = store.readDomain();
            int n = store.readSnapshots().size();
            if (n > 0 && !snapshotsMetadata) {
                throw new InvalidInputException("Requested operation is not valid: cannot delete inactive domain with "
                        + n + " snapshots");
            }
            if (removeAllStorage) {
                // The disks' current images and every image vmsnap made for the domain; never a
                // backing file the user made (it may be a template other domains share).
                java.util.Set<Path> files = new java.util.LinkedHashSet<>();
                for (DiskDef disk : d.disks()) {
                    if (!disk.readOnly() && "disk".equals(disk.device())) {
                        files.add(disk.source());
                    }
                }
                files.addAll(store.readOwned());
                for (Path f : files) {
                    if (Files.deleteIfExists(f)) {
                        removed.add(f);
                    }
                }
            }
            deleteTree(store.dir().resolve("snapshots"));
            for (String f : List.of("domain.xml", "current", "owned", "journal")) {
                Files.deleteIfExists(store.dir().resolve(f));
            }
            for (DiskDef disk : d.disks()) {
                deleteTree(disk.source().toAbsolutePath().getParent().resolve("." + d.name() + ".vmsnap"));
                break;
            }
        }
        Files.deleteIfExists(store.lockFile());
        Files.deleteIfExists(store.dir());
        return removed;
    }

    /** All defined domains, by name. */
    public List<Domain> list() throws IOException {
        List<Domain> out = new ArrayList<>();
        if (!Files.isDirectory(home)) {
            return out;
        }
        try (Stream<Path> dirs = Files.list(home)) {
            for (Path dir : dirs.sorted().toList()) {
                DomainStore store = new DomainStore(home, dir.getFileName().toString());
                if (store.exists()) {
                    out.add(store.readDomain());
                }
            }
        }
        return out;
    }

    public Domain get(String name) throws IOException {
        return snapshots(name).domain();
    }

    /** The snapshot operations of one domain (finishes or undoes an interrupted operation first). */
    public SnapshotService snapshots(String name) throws IOException {
        return new SnapshotService(existing(name), () -> System.currentTimeMillis() / 1000);
    }

    private DomainStore existing(String name) throws IOException {
        Names.checkDomainName(name);
        DomainStore store = new DomainStore(home, name);
        if (!store.exists()) {
            throw new NotFoundException("Domain not found: no domain with matching name '" + name + "'");
        }
        return store;
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
