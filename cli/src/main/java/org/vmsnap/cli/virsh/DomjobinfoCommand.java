package org.vmsnap.cli.virsh;

import java.io.IOException;
import java.util.Locale;

import org.vmsnap.cli.CliException;
import org.vmsnap.cli.HelpCommand;
import org.vmsnap.manager.DomainService;
import org.vmsnap.manager.NotFoundException;

import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code domjobinfo DOMAIN}: the figures of a save running in another vmsnap (QEMU's query-migrate). */
@Command(name = "domjobinfo", description = "Show the progress of a domain's running save (as virsh domjobinfo).",
        footerHeading = HelpCommand.EXAMPLES, footer = {"  vmsnap domjobinfo vm1"})
public final class DomjobinfoCommand extends VirshSubcommand {

    @Parameters(index = "0", paramLabel = "DOMAIN")
    String domain;

    @Override
    int execute() throws IOException {
        DomainService.JobInfo j;
        try {
            j = domains().jobInfo(domain);
        } catch (NotFoundException e) {
            throw new CliException(1, "failed to get domain '" + domain + "'", e);
        }
        StringBuilder b = new StringBuilder();
        if (j == null) {
            row(b, "Job type", "None        ");
        } else {
            row(b, "Job type", "Unbounded   ");
            row(b, "Operation", j.operation());
            row(b, "Time elapsed", j.elapsedMillis() + "         ms");
            row(b, "Data processed", mib(j.processedBytes()));
            row(b, "Data remaining", mib(j.remainingBytes()));
            row(b, "Data total", mib(j.totalBytes()));
            row(b, "Memory processed", mib(j.processedBytes()));
            row(b, "Memory remaining", mib(j.remainingBytes()));
            row(b, "Memory total", mib(j.totalBytes()));
            row(b, "Memory bandwidth", String.format(Locale.ROOT, "%.3f MiB/s", j.mibPerSecond()));
        }
        out().print(b);
        return 0;
    }

    private static String mib(long bytes) {
        return String.format(Locale.ROOT, "%.3f MiB", bytes / 1048576.0);
    }

    /** virsh pads "Key:" to 18 columns in domjobinfo. */
    private static void row(StringBuilder b, String key, String value) {
        b.append(String.format(Locale.ROOT, "%-18s%s", key + ":", value)).append('\n');
    }
}
