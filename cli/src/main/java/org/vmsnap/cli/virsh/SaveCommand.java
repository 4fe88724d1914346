package org.vmsnap.cli.virsh;

import java.io.IOException;
import java.nio.file.Path;

import org.vmsnap.cli.CliException;
import org.vmsnap.cli.HelpCommand;
import org.vmsnap.manager.ManagerException;
import org.vmsnap.manager.NotFoundException;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code save DOMAIN FILE [--running|--paused] [--bypass-cache] [--xml FILE] [--verbose]}. */
@Command(name = "save", description = "Save a running domain's memory and device state to a file; the domain"
        + " ends shut off (as virsh save).",
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap save vm1 vm1.state", "  vmsnap save vm1 vm1.state --paused   # restore leaves it paused"})
public final class SaveCommand extends VirshSubcommand {

    @Parameters(index = "0", paramLabel = "DOMAIN")
    String domain;

    @Parameters(index = "1", paramLabel = "FILE", description = "The new memory file (an existing file is refused).")
    String file;

    @Mixin
    SaveStateOptions state;

    @Option(names = "--bypass-cache", description = "Accepted for virsh's sake; the file is synced either way.")
    boolean bypassCache;

    @Option(names = "--xml", paramLabel = "FILE", description = "Another definition of the same domain to store.")
    String xml;

    @Option(names = "--verbose", description = "Show the save's progress on stderr, as virsh does.")
    boolean verbose;

    /** virsh's --verbose: the share of QEMU's stream sent so far, from the status monitor, twice a second. */
    private void showProgress() {
        org.vmsnap.manager.DomainService service = domains();
        while (!Thread.currentThread().isInterrupted()) {
            try {
                Thread.sleep(500);
                org.vmsnap.manager.DomainService.JobInfo j = service.jobInfo(domain);
                if (j != null && j.totalBytes() > 0) {
                    long pct = Math.min(99, 100 - j.remainingBytes() * 100 / j.totalBytes());
                    synchronized (err()) {
                        err().printf("\rSave: [%3d %%]", pct);
                        err().flush();
                    }
                }
            } catch (InterruptedException e) {
                return;
            } catch (IOException | RuntimeException e) {
                // no figures now: try again
            }
        }
    }

    @Override
    int execute() throws IOException {
        String alt = xml == null ? null : readFile(xml);
        Boolean running = state.running();
        Thread progress = verbose ? Thread.ofPlatform().daemon().start(this::showProgress) : null;
        try {
            domains().save(domain, org.vmsnap.cli.Cwd.path(file), running, alt);
        } catch (NotFoundException e) {
            throw new CliException(1, "failed to get domain '" + domain + "'", e);
        } catch (ManagerException e) {
            throw new CliException(1, "Failed to save domain '" + domain + "' to " + file + ": " + e.getMessage(), e);
        }
        if (progress != null) {
            progress.interrupt();
            try {
                progress.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            err().print("\rSave: [100 %]");
            err().flush();
        }
        out().print("\nDomain '" + domain + "' saved to " + file + "\n");
        return 0;
    }
}
