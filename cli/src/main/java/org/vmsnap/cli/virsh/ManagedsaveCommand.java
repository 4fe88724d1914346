package org.vmsnap.cli.virsh;

import java.io.IOException;

import org.vmsnap.cli.CliException;
import org.vmsnap.cli.HelpCommand;
import org.vmsnap.manager.ManagerException;
import org.vmsnap.manager.NotFoundException;
import org.vmsnap.qcow2.ImageWriteback;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code managedsave DOMAIN [--running|--paused] [--bypass-cache] [--verbose]}: start resumes from it. */
@Command(name = "managedsave", description = "Save a running domain's state in vmsnap's state folder and stop"
        + " it; start resumes from it (as virsh managedsave).",
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap managedsave vm1", "  vmsnap start vm1      # continues where it was"})
public final class ManagedsaveCommand extends VirshSubcommand {

    @Parameters(index = "0", paramLabel = "DOMAIN")
    String domain;

    @Mixin
    SaveStateOptions state;

    @Option(names = "--bypass-cache", description = "Leave none of the image in the page cache (it holds the guest's"
            + " RAM): vmsnap writes and syncs it, then drops its pages (virsh writes it with O_DIRECT).")
    boolean bypassCache;

    @Option(names = "--verbose", description = "Show the save's progress on stderr, as virsh does.")
    boolean verbose;

    @Override
    int execute() throws IOException {
        Boolean running = state.running();
        try (SaveProgress progress = SaveProgress.start(domains(), domain, "Managedsave", err(), verbose)) {
            java.nio.file.Path image = domains().managedSave(domain, running);
            if (bypassCache) {
                ImageWriteback.dropCachedPages(image);
            }
            progress.done();
        } catch (NotFoundException e) {
            throw new CliException(1, "failed to get domain '" + domain + "'", e);
        } catch (ManagerException e) {
            throw new CliException(1, "Failed to save domain '" + domain + "' state: " + e.getMessage(), e);
        }
        out().print("\nDomain '" + domain + "' state saved by libvirt\n");
        return 0;
    }
}
