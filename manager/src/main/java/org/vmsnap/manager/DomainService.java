package org.vmsnap.manager;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import org.vmsnap.manager.xml.Domain;

/** Defined domains under one state folder: define, undefine, list, look up. */
public final class DomainService {
    private final Path home;

    public DomainService(Path home) {
        this.home = home;
    }

    /** {@code $VMSNAP_HOME}, or {@code ~/.local/share/vmsnap}. */
    public static Path defaultHome() {
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
        throw new UnsupportedOperationException("lead is writing this");
    }

    /**
     * Removes a domain's definition. Refuses when it has snapshot metadata unless
     * {@code snapshotsMetadata}; deletes its disk images only with {@code removeAllStorage}.
     *
     * @return the image files removed
     */
    public List<Path> undefine(String name, boolean snapshotsMetadata, boolean removeAllStorage) throws IOException {
        throw new UnsupportedOperationException("lead is writing this");
    }

    /** All defined domains, by name. */
    public List<Domain> list() throws IOException {
        throw new UnsupportedOperationException("lead is writing this");
    }

    public Domain get(String name) throws IOException {
        throw new UnsupportedOperationException("lead is writing this");
    }

    /** The snapshot operations of one domain (finishes or undoes an interrupted operation first). */
    public SnapshotService snapshots(String name) throws IOException {
        throw new UnsupportedOperationException("lead is writing this");
    }
}
