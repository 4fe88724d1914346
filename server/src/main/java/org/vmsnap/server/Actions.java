package org.vmsnap.server;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.vmsnap.manager.CreateFlags;
import org.vmsnap.manager.DeleteScope;
import org.vmsnap.manager.DomainService;
import org.vmsnap.manager.DomainStatus;
import org.vmsnap.manager.InvalidInputException;
import org.vmsnap.manager.SnapshotService;
import org.vmsnap.manager.SnapshotTree;
import org.vmsnap.manager.xml.Names;
import org.vmsnap.manager.xml.SnapshotDef;
import org.vmsnap.manager.xml.SnapshotDisk;
import org.vmsnap.manager.xml.SnapshotMode;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The state-changing requests: each body is read into a request record (an unknown field, a
 * wrong type or bad JSON is a 400), checked as the CLI checks the same arguments before it calls
 * the manager (the domain and snapshot exist, a new name is valid and free, no contradictory
 * flags), and then run as a {@link Job} that makes exactly the manager call the CLI command
 * makes. A refused request starts no job and changes nothing.
 */
final class Actions {
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    /** snapshot-create-as: name, description, --disk-only, --diskspec NAME,snapshot=MODE. */
    record CreateRequest(String name, String description, Boolean diskOnly, List<DiskRequest> disks) {
    }

    /** One --diskspec: the disk's target and its mode (internal, external, no). */
    record DiskRequest(String name, String snapshot) {
    }

    /** snapshot-revert's --force, --running, --paused. */
    record RevertRequest(Boolean force, Boolean running, Boolean paused) {
    }

    /** snapshot-delete's --children, --children-only, --metadata. */
    record DeleteRequest(Boolean children, Boolean childrenOnly, Boolean metadata) {
    }

    /** start's --paused, --force-boot. */
    record StartRequest(Boolean paused, Boolean forceBoot) {
    }

    /** shutdown's --mode acpi|agent (absent: the agent when it answers, else ACPI). */
    record ShutdownRequest(String mode) {
    }

    /** destroy's --graceful. */
    record DestroyRequest(Boolean graceful) {
    }

    /** managedsave's --running, --paused (the state start restores the guest in). */
    record ManagedSaveRequest(Boolean running, Boolean paused) {
    }

    /** save's FILE, --running, --paused; restore's FILE, --running, --paused. */
    record FileRequest(String file, Boolean running, Boolean paused) {
    }

    /** suspend and resume take no options: any field is refused. */
    record NoOptions() {
    }

    /** The domain lifecycle verbs the API offers, by the word in the path (virsh's verb). */
    static final List<String> LIFECYCLE = List.of("start", "shutdown", "destroy", "suspend", "resume", "managedsave");

    /** An absent or null flag is off, as an option not given. */
    private static boolean on(Boolean flag) {
        return Boolean.TRUE.equals(flag);
    }

    private final DomainService domains;
    private final Jobs jobs;

    Actions(DomainService domains, Jobs jobs) {
        this.domains = domains;
        this.jobs = jobs;
    }

    static <T> T read(byte[] body, Class<T> type) throws InvalidInputException {
        String text = new String(body, StandardCharsets.UTF_8);
        try {
            return JSON.readValue(text.isBlank() ? "{}" : text, type);
        } catch (JsonProcessingException e) {
            String where = e.getLocation() == null ? ""
                    : " at line " + e.getLocation().getLineNr() + " column " + e.getLocation().getColumnNr();
            throw new InvalidInputException("request body" + where + ": " + e.getOriginalMessage()
                    .replace('\n', ' ').replace('\r', ' '));
        }
    }

    /** POST /api/domains/{name}/snapshots, as snapshot-create-as. */
    Job create(String domain, byte[] body) throws IOException {
        CreateRequest r = read(body, CreateRequest.class);
        SnapshotService service = domains.snapshots(domain);
        List<SnapshotDisk> disks = new ArrayList<>();
        for (DiskRequest d : r.disks() == null ? List.<DiskRequest>of() : r.disks()) {
            if (d == null || d.name() == null || d.name().isEmpty()) {
                throw new InvalidInputException("request body: each of disks needs a name (vda, ...)");
            }
            disks.add(new SnapshotDisk(d.name(), d.snapshot() == null ? null : SnapshotMode.parse(d.snapshot()),
                    null, null));
        }
        if (r.name() != null) {
            Names.checkSnapshotName(r.name());
            // As snapshot-create-as checks before it calls the manager (which checks again, locked).
            if (service.tree().contains(r.name())) {
                throw new InvalidInputException("operation failed: domain moment " + r.name() + " already exists");
            }
        }
        SnapshotDef request = new SnapshotDef(r.name(), r.description(), null, 0, null, null, null, disks, null);
        CreateFlags flags = new CreateFlags(false, false, false, on(r.diskOnly()), false, false);
        return jobs.submit("snapshot-create", domain, r.name(),
                p -> Map.of("name", service.withProgress(p).create(request, flags).name()));
    }

    /** POST /api/domains/{name}/snapshots/{snapshot}/revert, as snapshot-revert. */
    Job revert(String domain, String snapshot, byte[] body) throws IOException {
        RevertRequest r = read(body, RevertRequest.class);
        if (on(r.running()) && on(r.paused())) {
            throw new InvalidInputException("Options --running and --paused are mutually exclusive");
        }
        SnapshotService service = domains.snapshots(domain);
        String name = service.tree().get(snapshot).name();
        SnapshotService.After after = on(r.running()) ? SnapshotService.After.RUNNING
                : on(r.paused()) ? SnapshotService.After.PAUSED : SnapshotService.After.AS_RECORDED;
        return jobs.submit("snapshot-revert", domain, name, p -> {
            service.withProgress(p).revert(name, on(r.force()), after);
            return Map.of("name", name);
        });
    }

    /** DELETE /api/domains/{name}/snapshots/{snapshot}, as snapshot-delete. */
    Job delete(String domain, String snapshot, byte[] body) throws IOException {
        DeleteRequest r = read(body, DeleteRequest.class);
        SnapshotService service = domains.snapshots(domain);
        SnapshotTree tree = service.tree();
        String name = tree.get(snapshot).name();
        if (on(r.children()) && on(r.childrenOnly())) {
            throw new InvalidInputException("Failed to delete snapshot " + name
                    + ": Flags 'VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN' and 'VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY'"
                    + " are mutually exclusive");
        }
        DeleteScope scope = on(r.children()) ? DeleteScope.CHILDREN
                : on(r.childrenOnly()) ? DeleteScope.CHILDREN_ONLY : DeleteScope.SNAPSHOT;
        return jobs.submit("snapshot-delete", domain, name,
                p -> Map.of("deleted", service.withProgress(p).delete(name, scope, on(r.metadata()))));
    }

    /**
     * POST /api/domains/{name}/{verb}: start, shutdown, destroy, suspend, resume, managedsave, as
     * the CLI's commands of these names; each job makes exactly their DomainService call. The
     * body is checked first (400, no job); a domain whose state the verb cannot act on is
     * refused at once with the manager's own words (400, as the manager's InvalidInputException),
     * and the manager checks again under the domain's lock when the job runs.
     */
    Job lifecycle(String domain, String verb, byte[] body) throws IOException {
        Jobs.Action action = switch (verb) {
            case "start" -> {
                StartRequest r = read(body, StartRequest.class);
                yield p -> {
                    domains.start(domain, on(r.paused()), on(r.forceBoot()));
                    return state(domain);
                };
            }
            case "shutdown" -> {
                ShutdownRequest r = read(body, ShutdownRequest.class);
                if (r.mode() != null && !r.mode().equals("acpi") && !r.mode().equals("agent")) {
                    // The manager's words (Lifecycle.checkMode), before any job starts.
                    throw new InvalidInputException("Unknown mode " + r.mode() + " value, expecting 'acpi' or 'agent'");
                }
                yield p -> {
                    domains.shutdown(domain, r.mode());
                    return state(domain);
                };
            }
            case "destroy" -> {
                DestroyRequest r = read(body, DestroyRequest.class);
                yield p -> {
                    domains.destroy(domain, on(r.graceful()));
                    return state(domain);
                };
            }
            case "suspend" -> {
                read(body, NoOptions.class);
                yield p -> {
                    domains.suspend(domain);
                    return state(domain);
                };
            }
            case "resume" -> {
                read(body, NoOptions.class);
                yield p -> {
                    domains.resume(domain);
                    return state(domain);
                };
            }
            case "managedsave" -> {
                ManagedSaveRequest r = read(body, ManagedSaveRequest.class);
                if (on(r.running()) && on(r.paused())) {
                    throw new InvalidInputException("Options --running and --paused are mutually exclusive");
                }
                Boolean running = on(r.running()) ? Boolean.TRUE : on(r.paused()) ? Boolean.FALSE : null;
                yield p -> {
                    domains.managedSave(domain, running);
                    return state(domain);
                };
            }
            default -> throw new IllegalArgumentException(verb);
        };
        checkState(verb, domains.status(domain));
        return jobs.submit(verb, domain, null, action);
    }

    /**
     * POST /api/domains/{name}/save, as {@code save DOMAIN FILE [--running|--paused]}: the job makes
     * the CLI's DomainService call, which checks FILE as it does for the CLI (a new file in an
     * existing folder, never one that exists) before the guest pauses; its failure is the CLI's
     * line. While QEMU sends the state, the job's progress is what {@code save --verbose} shows.
     */
    Job save(String domain, byte[] body) throws IOException {
        FileRequest r = read(body, FileRequest.class);
        Path file = file(r, "save");
        Boolean running = state(r);
        checkState("save", domains.status(domain));
        return jobs.submit("save", domain, null, p -> {
            // As save --verbose shows it, twenty times a second: a save's stream often lasts only 0.1-0.3 s.
            try (org.vmsnap.manager.SaveWatch watch = org.vmsnap.manager.SaveWatch.start(domains, domain, "Save",
                    java.time.Duration.ofMillis(50), p)) {
                domains.save(domain, file, running, null);
                watch.done(); // the bar ends full
            } catch (org.vmsnap.manager.NotFoundException e) {
                throw new org.vmsnap.manager.NotFoundException("failed to get domain '" + domain + "'");
            } catch (org.vmsnap.manager.ManagerException e) {
                throw new org.vmsnap.manager.ManagerException("Failed to save domain '" + domain + "' to " + r.file()
                        + ": " + e.getMessage(), e);
            }
            Map<String, Object> result = new java.util.LinkedHashMap<>(state(domain));
            result.put("file", file.toString());
            return result;
        });
    }

    /**
     * POST /api/restore, as {@code restore FILE [--running|--paused]}: the domain is the one the
     * file names (defined from it when vmsnap does not know it yet, as the CLI does); the file is
     * checked by the manager's code, whole, before anything starts.
     */
    Job restore(byte[] body) throws IOException {
        FileRequest r = read(body, FileRequest.class);
        Path file = file(r, "restore");
        Boolean running = state(r);
        return jobs.submit("restore", null, null, p -> {
            String name;
            try {
                name = domains.restore(file, running, null);
            } catch (org.vmsnap.manager.ManagerException e) {
                throw new org.vmsnap.manager.ManagerException("Failed to restore domain from " + r.file() + ": "
                        + e.getMessage(), e);
            }
            Map<String, Object> result = new java.util.LinkedHashMap<>(state(name));
            result.put("file", file.toString());
            return result;
        });
    }

    /**
     * The request's FILE: an absolute path (a relative one would be relative to the server's
     * folder, which the caller does not see), no NUL. Everything else about it is the manager's
     * check, the CLI's.
     */
    private static Path file(FileRequest r, String verb) throws InvalidInputException {
        String f = r.file();
        if (f == null || f.isEmpty()) {
            throw new InvalidInputException("request body: " + verb + " needs a file (an absolute path)");
        }
        if (!f.startsWith("/") || f.indexOf('\0') >= 0) {
            throw new InvalidInputException("request body: file '" + f.replace('\0', ' ') + "' is not an absolute"
                    + " path (" + verb + " takes a path on the server's machine, from /)");
        }
        return Path.of(f);
    }

    /** --running / --paused as the manager takes them: null keeps the state the guest had. */
    private static Boolean state(FileRequest r) throws InvalidInputException {
        if (on(r.running()) && on(r.paused())) {
            throw new InvalidInputException("Options --running and --paused are mutually exclusive");
        }
        return on(r.running()) ? Boolean.TRUE : on(r.paused()) ? Boolean.FALSE : null;
    }

    /**
     * The early refusal of a verb the domain's state rules out, in the manager's words
     * (Lifecycle's "Requested operation is not valid: ..."); null state checks are the manager's.
     */
    static void checkState(String verb, DomainStatus status) throws InvalidInputException {
        DomainStatus.State s = status.state();
        String refusal = switch (verb) {
            case "start" -> status.active() ? "domain is already running" : null;
            case "resume" -> !status.active() ? "domain is not running"
                    : s == DomainStatus.State.RUNNING ? "domain is already running" : null;
            default -> !status.active() ? "domain is not running" : null;
        };
        if (refusal != null) {
            throw new InvalidInputException("Requested operation is not valid: " + refusal);
        }
    }

    /** A lifecycle job's result: the domain's state after the call, as GET /api/domains shows it. */
    private Map<String, Object> state(String domain) throws IOException {
        DomainStatus s = domains.status(domain);
        return Map.of("domain", domain, "state", s.state().words());
    }
}
