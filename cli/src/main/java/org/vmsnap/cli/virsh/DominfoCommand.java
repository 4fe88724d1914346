package org.vmsnap.cli.virsh;

import org.vmsnap.cli.HelpCommand;
import java.io.IOException;
import java.util.Locale;

import org.vmsnap.cli.CliException;
import org.vmsnap.manager.DomainService;
import org.vmsnap.manager.NotFoundException;

import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code dominfo DOMAIN}: virsh's key/value table (no security driver: model none, DOI 0). */
@Command(name = "dominfo", description = "Show basic information about a domain (as virsh dominfo).",
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap dominfo vm1"})
public final class DominfoCommand extends VirshSubcommand {

    @Parameters(paramLabel = "DOMAIN")
    String domain;

    @Override
    int execute() throws IOException {
        DomainService.DomainInfo i;
        try {
            i = domains().info(domain);
        } catch (NotFoundException e) {
            throw new CliException(1, "failed to get domain '" + domain + "'", e);
        }
        StringBuilder b = new StringBuilder();
        row(b, "Id", i.status().active() ? Integer.toString(i.status().id()) : "-");
        row(b, "Name", i.domain().name());
        row(b, "UUID", i.domain().uuid() == null ? "" : i.domain().uuid());
        row(b, "OS Type", i.domain().osType());
        row(b, "State", i.status().state().words());
        row(b, "CPU(s)", Integer.toString(i.domain().currentVcpus()));
        if (i.status().active()) {
            row(b, "CPU time", String.format(Locale.ROOT, "%.1fs", i.cpuTimeSec()));
        }
        row(b, "Max memory", i.domain().memoryKiB() + " KiB");
        row(b, "Used memory", i.usedMemoryKiB() + " KiB");
        row(b, "Persistent", "yes");
        row(b, "Autostart", "disable");
        row(b, "Managed save", domains().hasManagedSave(domain) ? "yes" : "no");
        row(b, "Security model", "none");
        row(b, "Security DOI", "0");
        for (int n = 0; n < i.messages().size(); n++) {
            row(b, n == 0 ? "Messages" : "", i.messages().get(n)); // virsh: "%-15s %s", the key once
        }
        out().print(b);
        return 0;
    }

    /** virsh pads "Key:" to 16 columns. */
    private static void row(StringBuilder b, String key, String value) {
        b.append(String.format(Locale.ROOT, "%-16s%s", key.isEmpty() ? "" : key + ":", value)).append('\n');
    }
}
