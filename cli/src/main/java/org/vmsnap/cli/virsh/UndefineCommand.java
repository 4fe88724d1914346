package org.vmsnap.cli.virsh;

import java.io.IOException;

import org.vmsnap.cli.CliException;
import org.vmsnap.cli.HelpCommand;
import org.vmsnap.manager.DomainService;
import org.vmsnap.manager.InvalidInputException;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code undefine DOMAIN [--snapshots-metadata] [--remove-all-storage]}: refuses while the
 * domain has snapshots unless their metadata may go too; removes images only when asked.
 */
@Command(name = "undefine", description = "Undefine a domain (as virsh undefine).",
        footerHeading = HelpCommand.EXAMPLES,
        footer = {"  vmsnap undefine vm1 --snapshots-metadata"})
public final class UndefineCommand extends VirshSubcommand {

    @Parameters(paramLabel = "DOMAIN")
    String domain;

    @Option(names = "--managed-save", description = "Remove the domain's managed save image too.")
    boolean managedSave;

    @Option(names = "--snapshots-metadata", description = "Remove the snapshot metadata too (the images stay).")
    boolean snapshotsMetadata;

    @Option(names = "--remove-all-storage", description = "Remove the disk images vmsnap made for the domain (its overlays); images vmsnap"
            + " did not make are kept and named.")
    boolean removeAllStorage;

    @Override
    int execute() throws IOException {
        DomainService.UndefineResult result;
        try {
            result = domains().undefine(domain, snapshotsMetadata, removeAllStorage, managedSave);
        } catch (InvalidInputException e) {
            // virsh says this on two lines; vmsnap's errors are one.
            throw new CliException(1, "Failed to undefine domain '" + domain + "': " + e.getMessage(), e);
        }
        // virsh names each volume it will not remove before saying the domain is gone.
        for (DomainService.Volume v : result.kept()) {
            err().println("vmsnap: Storage volume '" + v.disk() + "'(" + v.file() + ") was not removed: "
                    + v.keptBecause() + ". Remove it manually.");
        }
        err().flush();
        out().print("Domain '" + domain + "' has been undefined\n");
        for (DomainService.Volume v : result.removed()) {
            out().print("Volume '" + v.disk() + "'(" + v.file() + ") removed.\n");
        }
        return 0;
    }
}
