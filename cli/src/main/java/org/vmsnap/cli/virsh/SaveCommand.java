package org.vmsnap.cli.virsh;

import java.io.IOException;
import java.nio.file.Path;

import org.vmsnap.cli.CliException;
import org.vmsnap.cli.HelpCommand;
import org.vmsnap.manager.ManagerException;
import org.vmsnap.manager.NotFoundException;
import org.vmsnap.qcow2.ImageWriteback;

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

    @Option(names = "--bypass-cache", description = "Leave none of the file in the page cache (it holds the guest's"
            + " RAM): vmsnap writes and syncs it, then drops its pages (virsh writes it with O_DIRECT).")
    boolean bypassCache;

    @Option(names = "--xml", paramLabel = "FILE", description = "Another definition of the same domain to store.")
    String xml;

    @Option(names = "--verbose", description = "Show the save's progress on stderr, as virsh does.")
    boolean verbose;

    @Override
    int execute() throws IOException {
        String alt = xml == null ? null : readFile(xml);
        Boolean running = state.running();
        try (SaveProgress progress = SaveProgress.start(domains(), domain, "Save", err(), verbose)) {
            domains().save(domain, org.vmsnap.cli.Cwd.path(file), running, alt);
            if (bypassCache) {
                ImageWriteback.dropCachedPages(org.vmsnap.cli.Cwd.path(file));
            }
            progress.done();
        } catch (NotFoundException e) {
            throw new CliException(1, "failed to get domain '" + domain + "'", e);
        } catch (ManagerException e) {
            throw new CliException(1, "Failed to save domain '" + domain + "' to " + file + ": " + e.getMessage(), e);
        }
        out().print("\nDomain '" + domain + "' saved to " + file + "\n");
        return 0;
    }
}
