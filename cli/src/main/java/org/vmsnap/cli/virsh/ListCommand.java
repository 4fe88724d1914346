package org.vmsnap.cli.virsh;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

import org.vmsnap.cli.HelpCommand;
import org.vmsnap.manager.xml.Domain;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code list [--all] [--inactive] [--name]}: virsh's domain table. Every vmsnap domain is shut
 * off (running VMs come later), so plain {@code list} shows only the header, as virsh does
 * when nothing runs.
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

    @Option(names = "--name", description = "List domain names only.")
    boolean name;

    @Override
    int execute() throws IOException {
        List<Domain> shown = new ArrayList<>();
        if (all || inactive) {
            shown.addAll(domains().list());
        }
        shown.sort(Comparator.comparing(Domain::name, String.CASE_INSENSITIVE_ORDER));
        out().print(render(shown, name));
        return 0;
    }

    static String render(List<Domain> domains, boolean namesOnly) {
        if (namesOnly) {
            StringBuilder b = new StringBuilder();
            domains.forEach(d -> b.append(d.name()).append('\n'));
            return b.toString();
        }
        VshTable t = new VshTable("Id", "Name", "State");
        domains.forEach(d -> t.row("-", d.name(), "shut off"));
        return t.render();
    }
}
