package org.vmsnap.cli.virsh;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

import org.vmsnap.cli.HelpCommand;
import org.vmsnap.manager.DomainService;
import org.vmsnap.manager.DomainStatus;
import org.vmsnap.manager.xml.Domain;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code list [--all] [--inactive] [--state-running] [--state-paused] [--state-shutoff]
 * [--state-other] [--name]}: virsh's domain table, running domains first by Id, then the others
 * by name. The state is read without taking any domain's lock, so list answers while another
 * command works on a domain.
 */
@Command(name = "list", description = "List domains (as virsh list).",
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap list --all",
                "  vmsnap list --all --name"})
public final class ListCommand extends VirshSubcommand {

    @Option(names = "--all", description = "List inactive and active domains.")
    boolean all;

    @Option(names = "--inactive", description = "List inactive domains.")
    boolean inactive;

    @Option(names = "--state-running", description = "List domains in running state.")
    boolean stateRunning;

    @Option(names = "--state-paused", description = "List domains in paused state.")
    boolean statePaused;

    @Option(names = "--state-shutoff", description = "List domains in shut off state.")
    boolean stateShutoff;

    @Option(names = "--state-other", description = "List domains in other states.")
    boolean stateOther;

    @Option(names = "--name", description = "List domain names only.")
    boolean name;

    @Option(names = "--id", description = "List domain IDs only (with --name or --uuid: '-' for an inactive domain).")
    boolean id;

    @Option(names = "--uuid", description = "List domain UUIDs only.")
    boolean uuid;

    @Option(names = "--with-managed-save", description = "List domains with a managed save state.")
    boolean withManagedSave;

    @Option(names = "--without-managed-save", description = "List domains without a managed save state.")
    boolean withoutManagedSave;

    @Option(names = "--managed-save", description = "Mark inactive domains with a managed save state (state 'saved').")
    boolean managedSave;

    /** One row: the domain and its state. */
    record Row(Domain domain, DomainStatus status, String stateWords) {
        Row(Domain domain, DomainStatus status) {
            this(domain, status, status.state().words());
        }
    }

    @Override
    int execute() throws IOException {
        DomainService service = domains();
        List<Row> rows = new ArrayList<>();
        for (Domain d : service.list()) {
            DomainStatus s = service.status(d.name());
            boolean saved = (withManagedSave || withoutManagedSave || managedSave) && service.hasManagedSave(d.name());
            if (shown(s) && (!withManagedSave || saved) && (!withoutManagedSave || !saved)) {
                rows.add(new Row(d, s, managedSave && saved && !s.active() ? "saved" : s.state().words()));
            }
        }
        rows.sort(Comparator.comparing((Row r) -> !r.status().active())
                .thenComparingInt(r -> r.status().active() ? r.status().id() : 0)
                .thenComparing(r -> r.domain().name(), String.CASE_INSENSITIVE_ORDER));
        out().print(id || uuid ? renderColumns(rows, uuid, id, name) : render(rows, name));
        return 0;
    }

    /**
     * virsh's short forms: "UUID ID NAME", each column only when asked, one space apart; an
     * inactive domain's Id is "-", and with --id alone it has no line at all.
     */
    static String renderColumns(List<Row> rows, boolean uuid, boolean id, boolean name) {
        StringBuilder b = new StringBuilder();
        for (Row r : rows) {
            boolean active = r.status().active();
            if (id && !uuid && !name && !active) {
                continue;
            }
            List<String> cols = new ArrayList<>();
            if (uuid) {
                cols.add(r.domain().uuid() == null ? "" : r.domain().uuid());
            }
            if (id) {
                cols.add(active ? Integer.toString(r.status().id()) : "-");
            }
            if (name) {
                cols.add(r.domain().name());
            }
            b.append(String.join(" ", cols)).append('\n');
        }
        return b.toString();
    }

    private boolean shown(DomainStatus s) {
        boolean anyState = stateRunning || statePaused || stateShutoff || stateOther;
        if (anyState) {
            return switch (s.state()) {
                case RUNNING -> stateRunning;
                case PAUSED -> statePaused;
                case SHUTOFF -> stateShutoff;
                default -> stateOther;
            };
        }
        if (inactive && !all) {
            return !s.active();
        }
        return all || s.active();
    }

    static String render(List<Row> rows, boolean namesOnly) {
        if (namesOnly) {
            StringBuilder b = new StringBuilder();
            rows.forEach(r -> b.append(r.domain().name()).append('\n'));
            return b.toString();
        }
        VshTable t = new VshTable("Id", "Name", "State");
        rows.forEach(r -> t.row(r.status().active() ? Integer.toString(r.status().id()) : "-", r.domain().name(),
                r.stateWords()));
        return t.render();
    }
}
